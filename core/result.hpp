#pragma once
// Error handling shared by every library: no exception crosses a library
// boundary; fallible functions return Result<T>.
#include <string>
#include <utility>

#include <tl/expected.hpp>

namespace dmarcsift {

enum class Errc { bad_input, unsupported, io, database, busy, internal };

struct Error {
  Errc code;
  std::string where;  // file > archive entry > element path, as precise as known
  std::string what;   // the cause, in words a postmaster can act on
};

template <typename T>
using Result = tl::expected<T, Error>;

inline tl::unexpected<Error> fail(Errc code, std::string where, std::string what) {
  return tl::unexpected<Error>(Error{code, std::move(where), std::move(what)});
}

// "where: what", or just "what" when `where` is empty.
inline std::string to_string(const Error& error) {
  return error.where.empty() ? error.what : error.where + ": " + error.what;
}

}  // namespace dmarcsift
