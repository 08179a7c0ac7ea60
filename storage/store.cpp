#include "storage/store.hpp"

namespace dmarcsift::storage {

const char* to_string(InputOutcome outcome) {
  switch (outcome) {
    case InputOutcome::stored: return "stored";
    case InputOutcome::duplicate: return "duplicate";
    case InputOutcome::rejected: return "rejected";
    case InputOutcome::no_report: return "no_report";
  }
  return "unknown";
}

}  // namespace dmarcsift::storage
