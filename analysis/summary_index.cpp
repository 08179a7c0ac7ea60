#include "analysis/summary_index.hpp"

#include <algorithm>
#include <atomic>
#include <bit>
#include <bitset>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "analysis/findings.hpp"
#include "analysis/row_allowance.hpp"
#include "core/content_hash.hpp"

namespace dmarcsift::analysis {
namespace {

// Bump when a change to classification, diagnosis, findings or the encoding
// below changes what a summary row holds: stored summaries are rebuilt.
constexpr int k_rules_version = 1;
constexpr std::uint8_t k_encoding = 1;
// Records folded per transaction: bounds memory (a row per new source) and
// how long other writers wait.
constexpr std::int64_t k_chunk_records = 50000;

class Writer {
 public:
  void number(std::uint64_t value) {
    while (value >= 0x80) {
      m_bytes.push_back(static_cast<char>((value & 0x7f) | 0x80));
      value >>= 7;
    }
    m_bytes.push_back(static_cast<char>(value));
  }
  void signed_number(std::int64_t value) { number(static_cast<std::uint64_t>(value)); }
  void text(std::string_view value) {
    number(value.size());
    m_bytes.append(value);
  }
  std::string take() { return std::move(m_bytes); }

 private:
  std::string m_bytes;
};

class Reader {
 public:
  explicit Reader(std::string_view bytes) : m_bytes(bytes) {}
  bool number(std::uint64_t& value) {
    value = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (m_bytes.empty()) return false;
      const auto byte = static_cast<unsigned char>(m_bytes.front());
      m_bytes.remove_prefix(1);
      value |= static_cast<std::uint64_t>(byte & 0x7f) << shift;
      if ((byte & 0x80) == 0) return true;
    }
    return false;
  }
  bool signed_number(std::int64_t& value) {
    std::uint64_t raw = 0;
    if (!number(raw)) return false;
    value = static_cast<std::int64_t>(raw);
    return true;
  }
  bool text(std::string& value) {
    std::uint64_t size = 0;
    if (!number(size) || size > m_bytes.size()) return false;
    value.assign(m_bytes.substr(0, size));
    m_bytes.remove_prefix(size);
    return true;
  }
  bool done() const { return m_bytes.empty(); }

 private:
  std::string_view m_bytes;
};

// The counters of a SourceRow in their encoded order.
template <typename Row, typename F>
void each_counter(Row& row, F&& f) {
  f(row.messages);
  f(row.records);
  f(row.dmarc_pass_messages);
  f(row.spf_aligned_messages);
  f(row.dkim_aligned_messages);
  for (auto& n : row.messages_by_disposition) f(n);
  for (auto& n : row.tally.messages_by_row_class) f(n);
  f(row.tally.dmarc_pass_rows);
  f(row.tally.misaligned_or_unauthorized_rows);
  auto& e = row.evidence;
  for (auto* n : {&e.failing, &e.spf_own_permerror, &e.dns_temperror, &e.spf_own_failed_dkim_pass,
                  &e.forwarding_override, &e.dkim_own_failed, &e.dkim_absent, &e.strict_only,
                  &e.foreign_pass, &e.receiver_disagrees, &e.any_spf_pass}) {
    f(*n);
  }
  f(row.sample_auth_count);
  f(row.first_seen);
  f(row.last_seen);
}

// What a domain's totals were last ranked with: the parts of the policy that
// assess() reads.
struct RankedPolicy {
  std::int64_t p = -1;  // -1: never ranked
  std::int64_t sp = -1;
  std::int64_t testing = -1;
  bool operator==(const RankedPolicy&) const = default;
};

RankedPolicy ranked(const PolicyPublished& policy) {
  return {static_cast<std::int64_t>(policy.p),
          policy.sp ? static_cast<std::int64_t>(*policy.sp) : -1,
          policy.testing ? static_cast<std::int64_t>(*policy.testing) : -1};
}

struct DomainState {
  DomainRow totals;
  RankedPolicy ranked_with;
};

template <typename Row, typename F>
void each_domain_counter(Row& row, F&& f) {
  f(row.messages);
  f(row.dmarc_pass_messages);
  f(row.sources);
  for (auto& n : row.messages_by_category) f(n);
  for (auto& n : row.failing_by_category) f(n);
  f(row.legitimate_messages);
  f(row.legitimate_failing);
  f(row.legitimate_failing_sources);
}

std::string encode_domain(const DomainState& state) {
  Writer out;
  out.number(k_encoding);
  each_domain_counter(state.totals, [&](std::int64_t n) { out.signed_number(n); });
  out.signed_number(state.ranked_with.p);
  out.signed_number(state.ranked_with.sp);
  out.signed_number(state.ranked_with.testing);
  return out.take();
}

bool decode_domain(std::string_view bytes, DomainState& state) {
  Reader in(bytes);
  std::uint64_t encoding = 0;
  bool ok = in.number(encoding) && encoding == k_encoding;
  each_domain_counter(state.totals, [&](std::int64_t& n) { ok = ok && in.signed_number(n); });
  ok = ok && in.signed_number(state.ranked_with.p) && in.signed_number(state.ranked_with.sp) &&
       in.signed_number(state.ranked_with.testing);
  return ok && in.done();
}

// Adds (sign 1) or takes back (sign -1) what a source contributes to its
// domain's totals.
void contribute(DomainRow& domain, const SourceRow& source, int sign) {
  const auto category = static_cast<std::size_t>(source.category);
  const std::int64_t failing = source.messages - source.dmarc_pass_messages;
  domain.messages += sign * source.messages;
  domain.dmarc_pass_messages += sign * source.dmarc_pass_messages;
  domain.sources += sign;
  domain.messages_by_category[category] += sign * source.messages;
  domain.failing_by_category[category] += sign * failing;
  if (source.category != GroupClass::unauthorized) {
    domain.legitimate_messages += sign * source.messages;
    domain.legitimate_failing += sign * failing;
    if (failing > 0) domain.legitimate_failing_sources += sign;
  }
}

storage::SourceSummary to_summary(const SourceRow& row, std::int64_t id,
                                  const PolicyPublished& policy) {
  storage::SourceSummary summary;
  summary.id = id;
  summary.policy_domain = row.policy_domain;
  summary.source_ip = row.address;
  summary.header_from = row.header_from;
  summary.messages = row.messages;
  summary.failing_messages = row.messages - row.dmarc_pass_messages;
  summary.last_seen = row.last_seen;
  summary.category = static_cast<int>(row.category);
  if (auto finding = assess(row, policy)) summary.severity = static_cast<int>(finding->severity);
  summary.service = row.service;
  summary.state = encode_totals(row);
  return summary;
}

Result<void> from_summary(const storage::SourceSummary& summary, const SenderCatalog& senders,
                          SourceRow& row) {
  row.policy_domain = summary.policy_domain;
  row.address = summary.source_ip;
  row.source_ip = summary.source_ip.to_string();
  row.header_from = summary.header_from;
  row.service = summary.service;
  row.sender = summary.service.empty() ? nullptr : senders.find(summary.service);
  if (!decode_totals(summary.state, row)) {
    return fail(Errc::database, "source summary " + std::to_string(summary.id),
                "corrupt database: malformed summary totals");
  }
  conclude(row);
  return {};
}

// Remembers which keys this refresh has written, so that a rebuild from
// empty skips the look-up of keys it has never seen. False positives only
// cost a look-up.
class SeenKeys {
 public:
  void add(std::string_view key) {
    for (std::uint64_t h : hashes(key)) m_bits->set(h % k_bits);
  }
  bool maybe(std::string_view key) const {
    for (std::uint64_t h : hashes(key)) {
      if (!m_bits->test(h % k_bits)) return false;
    }
    return true;
  }

 private:
  static constexpr std::size_t k_bits = std::size_t{1} << 24;  // 2 MiB
  static std::array<std::uint64_t, 3> hashes(std::string_view key) {
    const std::uint64_t a = std::hash<std::string_view>{}(key);
    const std::uint64_t b = (a >> 29 | a << 35) * 0x9e3779b97f4a7c15ull + 1;
    return {a, b, a + 2 * b};
  }
  std::unique_ptr<std::bitset<k_bits>> m_bits = std::make_unique<std::bitset<k_bits>>();
};

// The policy domains a transaction touches: their totals, and the policy
// their sources are ranked under.
class DomainCache {
 public:
  DomainCache(storage::Summaries& summaries, const SenderCatalog& senders)
      : m_summaries(summaries), m_senders(senders) {}

  // The domain's entry, loaded on first use; a domain whose policy changed
  // since its sources were ranked has them ranked again first.
  Result<std::pair<DomainState, PolicyPublished>*> get(const std::string& domain) {
    if (auto it = m_entries.find(domain); it != m_entries.end()) return &it->second;
    auto& entry = m_entries[domain];
    auto& [state, policy] = entry;
    auto latest = m_summaries.latest_policy(domain);
    if (!latest) return tl::unexpected(latest.error());
    if (*latest) policy = **latest;
    auto stored = m_summaries.find_domain(domain);
    if (!stored) return tl::unexpected(stored.error());
    if (!*stored) return &entry;
    if (!decode_domain(**stored, state)) {
      return fail(Errc::database, domain, "corrupt database: malformed domain summary");
    }
    if (state.ranked_with == ranked(policy)) return &entry;
    std::vector<storage::SourceSummary> ranked_before;
    storage::SummaryQuery of_domain;
    of_domain.policy_domain = domain;
    auto listed = m_summaries.scan_sources(of_domain, [&](storage::SourceSummary&& source) {
      ranked_before.push_back(std::move(source));
      return true;
    });
    if (!listed) return tl::unexpected(listed.error());
    for (const storage::SourceSummary& before : ranked_before) {
      SourceRow source;
      if (auto ok = from_summary(before, m_senders, source); !ok) return tl::unexpected(ok.error());
      if (auto ok = m_summaries.put_source(to_summary(source, before.id, policy)); !ok) {
        return tl::unexpected(ok.error());
      }
    }
    return &entry;
  }

  Result<void> store() {
    for (auto& [domain, entry] : m_entries) {
      entry.first.ranked_with = ranked(entry.second);
      if (auto ok = m_summaries.put_domain(domain, encode_domain(entry.first)); !ok) return ok;
    }
    return {};
  }

 private:
  storage::Summaries& m_summaries;
  const SenderCatalog& m_senders;
  std::unordered_map<std::string, std::pair<DomainState, PolicyPublished>> m_entries;
};

// A source while its new records are grouped: where its key is and its
// totals. The key's text lives in FreshRows' arena, so a row owns no string
// of its own for it; the largest domain's sources are all held at once.
struct FoldRow {
  std::size_t key_offset = 0;   // of write_source_key()'s text in the arena
  std::size_t key_size = 0;
  std::size_t domain_size = 0;  // the policy domain: the key's first bytes
  IpAddress address;
  SourceTotals totals;
};

// Rows of new records, by key, before they are merged into the summaries.
class FreshRows {
 public:
  void add(const PublicSuffixList& psl, const SenderCatalog& senders,
           const storage::ScannedReport& report, std::int64_t record_id, const Record& record) {
    add_record(find_or_add(report.policy_domain, record).totals, psl, senders, report, record_id,
               record, &m_memos);
  }
  std::size_t size() const { return m_rows.size(); }
  std::deque<FoldRow>& rows() { return m_rows; }

  std::string_view policy_domain(const FoldRow& row) const {
    return std::string_view(m_keys).substr(row.key_offset, row.domain_size);
  }
  // The key is "domain \t address \t header_from" (write_source_key).
  std::string_view header_from(const FoldRow& row) const {
    const std::size_t skipped = row.domain_size + 1 + row.address.bytes().size() + 1;
    return std::string_view(m_keys).substr(row.key_offset + skipped, row.key_size - skipped);
  }

 private:
  // Open addressing over row numbers, at most half full: a look-up reads
  // the slot array, the row and its key, where std::unordered_map<std::string, ...>
  // chased a bucket, a node and the node's key string (a third of the
  // grouping thread's samples). Folding the 2M-record corpus took 4.42-4.57 s
  // against 4.66-4.94 s, in 6 MB less.
  //
  // A slot also says where its row's key is, so that a probe compares keys
  // without first reading the row: the two reads miss the cache apart, not
  // one after the other. Row numbers fit in 32 bits: four billion rows of
  // several hundred bytes each could not be held.
  struct Slot {
    std::uint64_t hash = 0;
    std::size_t key_offset = 0;
    std::uint32_t key_size = 0;  // short_size()
    std::uint32_t row = k_empty;
  };
  static constexpr std::uint32_t k_empty = static_cast<std::uint32_t>(-1);
  // Only a key of 4 GiB or more has its size in its row alone.
  static constexpr std::uint32_t k_long_key = static_cast<std::uint32_t>(-1);
  static std::uint32_t short_size(std::size_t size) {
    return size < k_long_key ? static_cast<std::uint32_t>(size) : k_long_key;
  }

  // Where a probe starts: the high bits of the hash times an odd constant.
  // Not the low bits: every key of a share has the same hash modulo the
  // share count, a power of two.
  std::size_t home(std::uint64_t hash) const {
    return static_cast<std::size_t>((hash * 0x9e3779b97f4a7c15ull) >> m_shift);
  }

  FoldRow& find_or_add(std::string_view policy_domain, const Record& record) {
    write_source_key(m_key, policy_domain, record.source_ip, record.header_from);
    const std::uint64_t hash = std::hash<std::string_view>{}(m_key);
    if ((m_rows.size() + 1) * 2 > m_slots.size()) grow();
    const std::size_t mask = m_slots.size() - 1;
    for (std::size_t i = home(hash);; i = (i + 1) & mask) {
      Slot& slot = m_slots[i];
      if (slot.row == k_empty) {
        slot = {hash, m_keys.size(), short_size(m_key.size()),
                static_cast<std::uint32_t>(m_rows.size())};
        FoldRow& row = m_rows.emplace_back();
        row.key_offset = m_keys.size();
        row.key_size = m_key.size();
        row.domain_size = policy_domain.size();
        row.address = record.source_ip;
        m_keys += m_key;
        return row;
      }
      if (slot.hash != hash || slot.key_size != short_size(m_key.size())) continue;
      const std::size_t size =
          slot.key_size == k_long_key ? m_rows[slot.row].key_size : slot.key_size;
      if (size == m_key.size() && std::string_view(m_keys).substr(slot.key_offset, size) == m_key) {
        return m_rows[slot.row];
      }
    }
  }

  void grow() {
    std::vector<Slot> slots(m_slots.empty() ? 64 : m_slots.size() * 2);
    m_shift = 64 - std::countr_zero(slots.size());
    const std::size_t mask = slots.size() - 1;
    for (const Slot& slot : m_slots) {
      if (slot.row == k_empty) continue;
      std::size_t i = home(slot.hash);
      while (slots[i].row != k_empty) i = (i + 1) & mask;
      slots[i] = slot;
    }
    m_slots = std::move(slots);
  }

  std::vector<Slot> m_slots;  // a power of two of them
  int m_shift = 64;           // 64 - log2(m_slots.size())
  std::deque<FoldRow> m_rows;  // rows are big: growing never moves them
  std::string m_keys;          // every row's key, one after another
  std::string m_key;
  RecordMemos m_memos;
};

SourceRow to_source_row(const FreshRows& rows, FoldRow&& fresh) {
  SourceRow row;
  static_cast<SourceTotals&>(row) = std::move(fresh.totals);
  row.policy_domain = rows.policy_domain(fresh);
  row.address = fresh.address;
  row.source_ip = fresh.address.to_string();
  row.header_from = rows.header_from(fresh);
  if (row.sender != nullptr) row.service = row.sender->name;
  return row;
}

// Merges `rows` into the summaries. `seen`, during a rebuild, remembers the
// keys written so far: a key it never saw has no stored row to look up.
Result<void> write_rows(storage::Summaries& summaries, const SenderCatalog& senders,
                        FreshRows& rows, DomainCache& domains, SeenKeys* seen) {
  std::string key;
  for (FoldRow& fresh : rows.rows()) {
    SourceRow row = to_source_row(rows, std::move(fresh));
    write_source_key(key, row.policy_domain, row.address, row.header_from);
    std::optional<storage::SourceSummary> existing;
    if (seen == nullptr || seen->maybe(key)) {
      auto found = summaries.find_source(row.policy_domain, row.address, row.header_from);
      if (!found) return tl::unexpected(found.error());
      existing = std::move(*found);
    }
    if (seen != nullptr) seen->add(key);
    auto entry = domains.get(row.policy_domain);
    if (!entry) return tl::unexpected(entry.error());
    auto& [state, policy] = **entry;
    SourceRow merged;
    if (existing) {
      if (auto ok = from_summary(*existing, senders, merged); !ok) return tl::unexpected(ok.error());
      // Equal samples are told apart by their text, which the stored row
      // keeps only as a record id.
      if (merged.sample_record != 0 && merged.sample_auth_count == row.sample_auth_count) {
        auto sample = summaries.record(merged.sample_record);
        if (!sample) return tl::unexpected(sample.error());
        if (*sample) merged.sample_auth = describe_auth(**sample);
      }
      contribute(state.totals, merged, -1);
      merge_totals(merged, row);
    } else {
      merged = std::move(row);
    }
    conclude(merged);
    contribute(state.totals, merged, 1);
    if (auto ok = summaries.put_source(to_summary(merged, existing ? existing->id : 0, policy)); !ok) {
      return ok;
    }
  }
  return {};
}

// Groups records into rows on a thread of its own while the calling thread
// reads them from the database and writes the rows: with a core for each, a
// fold takes about the longer of the two instead of their sum (fold of 2M
// records: reading 35 %, grouping 39 %, writing 28 % of one thread's time).
class GroupingThread {
 public:
  // Rows past what `allowance` leaves room for wait until it does.
  GroupingThread(const PublicSuffixList& psl, const SenderCatalog& senders, std::size_t max_rows,
                 RowAllowance* allowance = nullptr)
      : m_psl(psl),
        m_senders(senders),
        m_max_rows(max_rows),
        m_allowance(allowance),
        m_thread([this] { run(); }) {}
  ~GroupingThread() {
    {
      std::lock_guard lock(m_mutex);
      m_stopping = true;
    }
    m_changed.notify_all();
  }
  GroupingThread(const GroupingThread&) = delete;
  GroupingThread& operator=(const GroupingThread&) = delete;

  // Queues a record; waits while the grouping thread is far behind.
  void add(const storage::ScannedReport& report, std::int64_t record_id, const Record& record) {
    Block& block = m_filling;
    if (block.report_count == 0 || block.reports[block.report_count - 1].id != report.id) {
      if (block.report_count == block.reports.size()) block.reports.emplace_back();
      ReportCopy& copy = block.reports[block.report_count++];
      copy.id = report.id;
      copy.reporter.assign(report.reporter);
      copy.reporter_id = report.reporter_id;
      copy.policy_domain.assign(report.policy_domain);
      copy.policy = *report.policy;
      copy.date_range = report.date_range;
    }
    // Blocks come back from the grouping thread to be filled again: assigning
    // over a used record reuses its strings' memory, where a fresh copy cost
    // this thread a quarter of its time in malloc and free.
    if (block.record_count == block.records.size()) block.records.emplace_back();
    RecordCopy& copy = block.records[block.record_count++];
    copy.report = block.report_count - 1;
    copy.id = record_id;
    copy.record = record;
    if (block.record_count == k_block_records) send();
  }

  // Rows that reached max_rows, in the order they did; to be written before
  // any later ones.
  std::optional<FreshRows> take_full() {
    // Asked after every record read, and almost always answered no: without
    // the lock, which cost the reading thread 4 % of its time.
    if (m_full_count.load(std::memory_order_acquire) == 0) return std::nullopt;
    std::lock_guard lock(m_mutex);
    if (m_full.empty()) return std::nullopt;
    FreshRows rows = std::move(m_full.front());
    m_full.pop_front();
    m_full_count.store(m_full.size(), std::memory_order_relaxed);
    return rows;
  }

  // Waits until every queued record is grouped; returns the rows not yet
  // taken, full ones first.
  std::vector<FreshRows> finish() {
    send();
    std::unique_lock lock(m_mutex);
    m_changed.wait(lock, [&] { return m_blocks.empty() && !m_busy; });
    std::vector<FreshRows> rows(std::make_move_iterator(m_full.begin()),
                                std::make_move_iterator(m_full.end()));
    m_full.clear();
    m_full_count.store(0, std::memory_order_relaxed);
    rows.push_back(std::move(m_rows));
    return rows;
  }

  std::int64_t records() const { return m_records; }

 private:
  static constexpr std::size_t k_block_records = 4096;
  static constexpr std::size_t k_blocks_ahead = 4;

  struct ReportCopy {
    std::int64_t id;
    std::string reporter;
    std::int64_t reporter_id;
    std::string policy_domain;
    PolicyPublished policy;
    DateRange date_range;
  };
  struct RecordCopy {
    std::size_t report;  // index into Block::reports
    std::int64_t id;
    Record record;
  };
  // Only the first report_count reports and record_count records are in
  // use; the rest keep their memory for the next time the block is filled.
  struct Block {
    std::vector<ReportCopy> reports;
    std::vector<RecordCopy> records;
    std::size_t report_count = 0;
    std::size_t record_count = 0;
  };

  void send() {
    if (m_filling.record_count == 0) return;
    m_records += static_cast<std::int64_t>(m_filling.record_count);
    std::unique_lock lock(m_mutex);
    m_changed.wait(lock, [&] { return m_blocks.size() < k_blocks_ahead; });
    m_blocks.push_back(std::move(m_filling));
    if (m_spare.empty()) {
      m_filling = {};
    } else {
      m_filling = std::move(m_spare.back());
      m_spare.pop_back();
    }
    m_changed.notify_all();
  }

  void run() {
    for (;;) {
      Block block;
      {
        std::unique_lock lock(m_mutex);
        m_busy = false;
        m_changed.notify_all();
        m_changed.wait(lock, [&] { return m_stopping || !m_blocks.empty(); });
        if (m_stopping) return;
        block = std::move(m_blocks.front());
        m_blocks.pop_front();
        m_busy = true;
        m_changed.notify_all();
      }
      for (std::size_t i = 0; i < block.record_count; ++i) {
        const RecordCopy& copy = block.records[i];
        const ReportCopy& from = block.reports[copy.report];
        storage::ScannedReport report{from.id, from.reporter, from.reporter_id, from.policy_domain,
                                      &from.policy, from.date_range};
        // Before the record may add a row, room for one more.
        if (m_allowance != nullptr) m_allowance->wait_for_room(m_rows.size() + 1);
        m_rows.add(m_psl, m_senders, report, copy.id, copy.record);
        if (m_allowance != nullptr) m_allowance->note(m_rows.size());
        if (m_rows.size() < m_max_rows) continue;
        std::lock_guard lock(m_mutex);
        m_full.push_back(std::move(m_rows));
        m_full_count.store(m_full.size(), std::memory_order_release);
        m_rows = FreshRows();
      }
      block.report_count = 0;
      block.record_count = 0;
      std::lock_guard lock(m_mutex);
      m_spare.push_back(std::move(block));
    }
  }

  const PublicSuffixList& m_psl;
  const SenderCatalog& m_senders;
  const std::size_t m_max_rows;
  RowAllowance* const m_allowance;
  Block m_filling;          // the calling thread's
  std::int64_t m_records = 0;
  std::mutex m_mutex;
  std::condition_variable m_changed;
  std::deque<Block> m_blocks;
  std::vector<Block> m_spare;  // grouped, to be filled again
  std::deque<FreshRows> m_full;
  std::atomic<std::size_t> m_full_count{0};  // m_full.size(), for take_full()
  FreshRows m_rows;  // the grouping thread's, until finish()
  bool m_busy = false;
  bool m_stopping = false;
  std::jthread m_thread;  // last: starts when everything else is ready
};

constexpr std::uint64_t k_max_shares = 1 << 16;

// A share of the sources of a policy domain: those whose key hashes to
// `index` modulo `count`.
struct Share {
  std::uint64_t count = 1;
  std::uint64_t index = 0;

  // Whether the record's source is in the share; `key` is scratch space.
  bool holds(std::string& key, const storage::ScannedReport& report, const Record& record) const {
    if (count == 1) return true;
    write_source_key(key, report.policy_domain, record.source_ip, record.header_from);
    return std::hash<std::string>{}(key) % count == index;
  }
};

// What fold() does when its rows reach max_rows.
enum class WhenFull {
  write,  // write them and go on: a source may be written again later
  stop,   // give up and return nullopt, having written nothing
};

// The sources in `share` of the records of `filter`'s reports after `after`
// up to `through`, read through `source`, grouped into rows; nullopt when
// they are more than max_rows.
struct GroupedRows {
  FreshRows rows;
  std::int64_t records = 0;
};
Result<std::optional<GroupedRows>> group_share(storage::Summaries& source,
                                               const PublicSuffixList& psl,
                                               const SenderCatalog& senders,
                                               const storage::ReportFilter& filter,
                                               std::int64_t after, std::int64_t through,
                                               Share share, std::size_t max_rows,
                                               RowAllowance* allowance = nullptr) {
  GroupingThread grouping(psl, senders, max_rows, allowance);
  bool full = false;
  std::string key;
  auto scanned = source.scan_records(
      filter, after, through,
      [&](const storage::ScannedReport& report, std::int64_t record_id, const Record& record) {
        if (!share.holds(key, report, record)) return true;
        grouping.add(report, record_id, record);
        full = grouping.take_full().has_value();
        return !full;
      });
  if (!scanned) return tl::unexpected(scanned.error());
  std::vector<FreshRows> rows = grouping.finish();
  if (full || rows.size() > 1) return std::nullopt;
  return GroupedRows{std::move(rows.back()), grouping.records()};
}

// Folds the records of `filter`'s reports after `after` up to `through`, of
// the sources in `share`; runs inside an update transaction. Returns the
// records folded, or nullopt when it stopped because of WhenFull::stop.
Result<std::optional<std::int64_t>> fold(storage::Summaries& summaries, const PublicSuffixList& psl,
                                         const SenderCatalog& senders,
                                         const storage::ReportFilter& filter, std::int64_t after,
                                         std::int64_t through, SeenKeys* seen, Share share,
                                         WhenFull when_full, std::size_t max_rows) {
  DomainCache domains(summaries, senders);
  if (when_full == WhenFull::stop) {
    auto grouped =
        group_share(summaries, psl, senders, filter, after, through, share, max_rows);
    if (!grouped) return tl::unexpected(grouped.error());
    if (!*grouped) return std::nullopt;
    if (auto ok = write_rows(summaries, senders, (*grouped)->rows, domains, seen); !ok) {
      return tl::unexpected(ok.error());
    }
    if (auto ok = domains.store(); !ok) return tl::unexpected(ok.error());
    return std::optional<std::int64_t>((*grouped)->records);
  }
  GroupingThread grouping(psl, senders, max_rows);
  std::optional<Error> error;
  const auto write_full = [&]() -> Result<void> {
    while (auto rows = grouping.take_full()) {
      if (auto ok = write_rows(summaries, senders, *rows, domains, seen); !ok) return ok;
    }
    return {};
  };
  std::string key;
  auto scanned = summaries.scan_records(
      filter, after, through,
      [&](const storage::ScannedReport& report, std::int64_t record_id, const Record& record) {
        if (!share.holds(key, report, record)) return true;
        grouping.add(report, record_id, record);
        if (auto ok = write_full(); !ok) {
          error = ok.error();
          return false;
        }
        return true;
      });
  if (!scanned) return tl::unexpected(scanned.error());
  if (error) return tl::unexpected(*error);
  for (FreshRows& rows : grouping.finish()) {
    if (auto ok = write_rows(summaries, senders, rows, domains, seen); !ok) {
      return tl::unexpected(ok.error());
    }
  }
  if (auto ok = domains.store(); !ok) return tl::unexpected(ok.error());
  return std::optional<std::int64_t>(grouping.records());
}

// One share of a policy domain's sources as the read-ahead hands it over.
struct ReadShare {
  enum class Kind {
    rows,         // the share's rows
    more_shares,  // the shares handed over were too few: the domain starts
                  // again, in twice as many
    too_many,     // the domain needs k_max_shares or more: fold it directly
  };
  Kind kind = Kind::rows;
  std::string domain;
  GroupedRows grouped;
  bool last = false;  // the domain's last share
};

// A rebuild's reading and grouping, one share of a policy domain ahead of
// its writing: a thread of its own reads the records through a second
// connection while the rebuild writes the previous share's rows (a quarter
// of a rebuild's CPU time on the 2M-record corpus). On two cores that
// rebuild took 4.19-4.69 s against 4.25-5.35 s, for 9 MB more. The rows of
// the share being written count against the next one's (RowAllowance).
class ReadAhead {
 public:
  ReadAhead(std::unique_ptr<storage::Summaries> reader, const PublicSuffixList& psl,
            const SenderCatalog& senders, std::vector<std::string> domains, std::int64_t through,
            std::size_t max_rows)
      : m_reader(std::move(reader)),
        m_psl(psl),
        m_senders(senders),
        m_domains(std::move(domains)),
        m_through(through),
        m_max_rows(max_rows),
        m_allowance(max_rows),
        m_thread([this] { run(); }) {}
  ~ReadAhead() {
    {
      std::lock_guard lock(m_mutex);
      m_stopping = true;
    }
    m_changed.notify_all();
    // A share being grouped may wait for the rows of the last one written.
    m_allowance.release();
  }
  ReadAhead(const ReadAhead&) = delete;
  ReadAhead& operator=(const ReadAhead&) = delete;

  // The reports it reads: those up to this id.
  std::int64_t through() const { return m_through; }
  // The most rows of shares it held at once with the writer.
  std::size_t most_rows() const { return m_allowance.most(); }

  // The next share, domains in the order given; nullopt after the last.
  // Asking for it tells that the previous one is written and freed.
  Result<std::optional<ReadShare>> next() {
    m_allowance.release();
    std::unique_lock lock(m_mutex);
    m_changed.wait(lock, [&] { return m_ready.has_value() || m_done; });
    if (!m_ready) return std::optional<ReadShare>();
    if (*m_ready) m_allowance.hold((*m_ready)->grouped.rows.size());
    Result<ReadShare> ready = std::move(*m_ready);
    m_ready.reset();
    m_changed.notify_all();
    if (!ready) return tl::unexpected(ready.error());
    return std::optional<ReadShare>(std::move(*ready));
  }

 private:
  // Waits until the share is taken, so that grouping the next one starts
  // only when this one is being written; false when stopping.
  bool hand_over(Result<ReadShare> share) {
    std::unique_lock lock(m_mutex);
    m_ready = std::move(share);
    m_changed.notify_all();
    m_changed.wait(lock, [&] { return !m_ready.has_value() || m_stopping; });
    return !m_stopping;
  }

  void run() {
    for (const std::string& domain : m_domains) {
      storage::ReportFilter of_domain;
      of_domain.policy_domain = domain;
      std::uint64_t count = 1;
      for (std::uint64_t index = 0; index < count;) {
        auto grouped = group_share(*m_reader, m_psl, m_senders, of_domain, 0, m_through,
                                   {count, index}, m_max_rows, &m_allowance);
        if (!grouped) {
          hand_over(tl::unexpected(grouped.error()));
          return finish();
        }
        if (!*grouped) {
          if (count * 2 >= k_max_shares) {
            if (!hand_over(ReadShare{ReadShare::Kind::too_many, domain, {}, false})) return;
            break;
          }
          count *= 2;
          // Shares already handed over were written with the wrong count:
          // the domain is written again from its first share.
          if (index > 0 && !hand_over(ReadShare{ReadShare::Kind::more_shares, domain, {}, false})) {
            return;
          }
          index = 0;
          continue;
        }
        const bool last = index + 1 == count;
        if (!hand_over(ReadShare{ReadShare::Kind::rows, domain, std::move(**grouped), last})) {
          return;
        }
        ++index;
      }
    }
    finish();
  }

  void finish() {
    std::lock_guard lock(m_mutex);
    m_done = true;
    m_changed.notify_all();
  }

  std::unique_ptr<storage::Summaries> m_reader;
  const PublicSuffixList& m_psl;
  const SenderCatalog& m_senders;
  const std::vector<std::string> m_domains;
  const std::int64_t m_through;
  const std::size_t m_max_rows;
  RowAllowance m_allowance;
  std::mutex m_mutex;
  std::condition_variable m_changed;
  std::optional<Result<ReadShare>> m_ready;
  bool m_done = false;
  bool m_stopping = false;
  std::jthread m_thread;  // last: starts when everything else is ready
};

enum class DomainWritten {
  done,
  start_again,    // the read-ahead starts the domain again in more shares
  fold_directly,  // the domain needs the direct fold
  out_of_step,    // the read-ahead is not on this domain
};

// Writes the rows the read-ahead grouped for `domain`; inside an update.
// Adds the records they hold to `records` when done.
Result<DomainWritten> write_domain(ReadAhead& ahead, storage::Summaries& summaries,
                                   const SenderCatalog& senders, const std::string& domain,
                                   SeenKeys& seen, std::int64_t& records) {
  DomainCache domains(summaries, senders);
  std::int64_t written = 0;
  for (;;) {
    auto share = ahead.next();
    if (!share) return tl::unexpected(share.error());
    if (!*share || (*share)->domain > domain) return DomainWritten::out_of_step;
    // Another process rebuilt the domains before this one meanwhile.
    if ((*share)->domain < domain) continue;
    switch ((*share)->kind) {
      case ReadShare::Kind::more_shares:
        return DomainWritten::start_again;
      case ReadShare::Kind::too_many:
        return DomainWritten::fold_directly;
      case ReadShare::Kind::rows:
        break;
    }
    if (auto ok = write_rows(summaries, senders, (*share)->grouped.rows, domains, &seen); !ok) {
      return tl::unexpected(ok.error());
    }
    written += (*share)->grouped.records;
    if ((*share)->last) break;
  }
  if (auto ok = domains.store(); !ok) return tl::unexpected(ok.error());
  records += written;
  return DomainWritten::done;
}

}  // namespace

std::string encode_totals(const SourceRow& row) {
  Writer out;
  out.number(k_encoding);
  each_counter(row, [&](std::int64_t n) { out.signed_number(n); });
  // The From domain is the row's key; the sample record and the reporters
  // are ids, their text is looked up for the rows shown.
  out.text(row.evidence.failed_selector);
  out.text(row.evidence.foreign_domain);
  out.signed_number(row.sample_record);
  out.number(row.reporter_ids.size());
  for (std::int64_t reporter : row.reporter_ids) out.signed_number(reporter);
  // Days ascending, each as the step from the one before: a source seen
  // daily costs a byte a day.
  out.number(row.days.size());
  std::int64_t previous = 0;
  row.days.for_each([&](std::int64_t day) {
    out.signed_number(day - previous);
    previous = day;
  });
  return out.take();
}

bool decode_totals(std::string_view bytes, SourceRow& row) {
  Reader in(bytes);
  std::uint64_t encoding = 0;
  bool ok = in.number(encoding) && encoding == k_encoding;
  each_counter(row, [&](std::int64_t& n) { ok = ok && in.signed_number(n); });
  row.evidence.header_from = row.header_from;
  ok = ok && in.text(row.evidence.failed_selector) && in.text(row.evidence.foreign_domain) &&
       in.signed_number(row.sample_record);
  std::uint64_t count = 0;
  ok = ok && in.number(count) && count <= bytes.size();
  row.reporters.clear();
  row.reporter_ids.clear();
  for (std::uint64_t i = 0; ok && i < count; ++i) ok = in.signed_number(row.reporter_ids.emplace_back());
  ok = ok && in.number(count) && count <= bytes.size();
  row.days.clear();
  std::int64_t day = 0;
  for (std::uint64_t i = 0; ok && i < count; ++i) {
    std::int64_t step = 0;
    ok = in.signed_number(step);
    // Wrapping: a damaged row must not overflow, only fail to make sense.
    day = static_cast<std::int64_t>(static_cast<std::uint64_t>(day) + static_cast<std::uint64_t>(step));
    row.days.add(day);
  }
  return ok && in.done();
}

std::string summary_fingerprint(const PublicSuffixList& psl, const SenderCatalog& senders) {
  std::string catalog;
  for (const KnownSender& sender : senders.senders()) {
    catalog += sender.name + '\x1f' + sender.category + '\x1f' + sender.fix + '\x1f';
    for (const auto* list : {&sender.dkim_domains, &sender.bounce_domains}) {
      for (const std::string& domain : *list) catalog += domain + ' ';
      catalog += '\x1f';
    }
    catalog += '\x1e';
  }
  return "rules " + std::to_string(k_rules_version) + "; psl " + psl.identity() + "; senders " +
         hash_to_hex(content_hash(catalog));
}

Result<RefreshResult> refresh_summaries(storage::Store& store, const PublicSuffixList& psl,
                                        const SenderCatalog& senders, const RefreshLimits& limits) {
  storage::Summaries& summaries = store.summaries();
  const std::string fingerprint = summary_fingerprint(psl, senders);
  // Most calls find nothing to do; they are answered without the write lock.
  auto mark = summaries.mark();
  if (!mark) return tl::unexpected(mark.error());
  auto last = summaries.last_report_id();
  if (!last) return tl::unexpected(last.error());
  RefreshResult result;
  if (mark->fingerprint == fingerprint && !mark->rebuilding && mark->folded_through >= *last) {
    return result;
  }

  // A rebuild goes one policy domain at a time, each in its own transaction,
  // so that every source is written once and other writers never wait long.
  SeenKeys seen;
  std::optional<std::vector<std::string>> rebuild_domains;
  // Into how many shares a domain's sources are split, once one pass over
  // its records held more than max_rows sources.
  std::unordered_map<std::string, std::uint64_t> shares;
  // Reads and groups a domain's records while the previous one is written,
  // when the database can be opened a second time.
  std::optional<ReadAhead> read_ahead;
  bool read_ahead_tried = false;
  std::string fold_directly;  // the domain the read-ahead left to fold()
  const auto drop_read_ahead = [&] {
    result.most_rows = std::max(result.most_rows, read_ahead->most_rows());
    read_ahead.reset();
  };
  for (;;) {
    if (auto ok = summaries.begin_update(); !ok) return tl::unexpected(ok.error());
    // Read again under the write lock: another process may have folded.
    mark = summaries.mark();
    if (!mark) return tl::unexpected(mark.error());
    last = summaries.last_report_id();
    if (!last) return tl::unexpected(last.error());
    if (mark->fingerprint != fingerprint) {
      if (auto ok = summaries.clear(); !ok) return tl::unexpected(ok.error());
      mark = storage::SummaryMark{*last, fingerprint, true, ""};
      result.rebuilt = true;
    }
    if (mark->rebuilding) {
      if (!rebuild_domains) {
        auto domains = summaries.policy_domains(mark->folded_through);
        if (!domains) return tl::unexpected(domains.error());
        rebuild_domains = std::move(*domains);
      }
      auto next = std::upper_bound(rebuild_domains->begin(), rebuild_domains->end(),
                                   mark->rebuilt_through);
      if (next != rebuild_domains->end() && !read_ahead_tried) {
        read_ahead_tried = true;
        // Reading ahead only saves time: a database that cannot be opened
        // again (in memory, or out of file handles) is folded directly, and
        // any real fault shows there.
        auto reader = summaries.open_reader();
        if (reader && *reader) {
          read_ahead.emplace(std::move(*reader), psl, senders,
                             std::vector<std::string>(next, rebuild_domains->end()),
                             mark->folded_through, limits.max_rows);
        }
      }
      if (read_ahead && read_ahead->through() != mark->folded_through) drop_read_ahead();
      if (next == rebuild_domains->end()) {
        mark->rebuilding = false;
        mark->rebuilt_through.clear();
      } else if (read_ahead && *next != fold_directly) {
        auto written = write_domain(*read_ahead, summaries, senders, *next, seen, result.records);
        if (!written) return tl::unexpected(written.error());
        if (*written != DomainWritten::done) {
          // Rows of the domain may be written already: it starts again in a
          // fresh transaction.
          if (auto ok = summaries.rollback_update(); !ok) return tl::unexpected(ok.error());
          if (*written == DomainWritten::fold_directly) fold_directly = *next;
          if (*written == DomainWritten::out_of_step) drop_read_ahead();
          continue;
        }
        result.read_ahead = true;
        mark->rebuilt_through = *next;
      } else {
        storage::ReportFilter of_domain;
        of_domain.policy_domain = *next;
        std::uint64_t& count = shares.try_emplace(*next, 1).first->second;
        // Only sources whose keys hash alike could need more shares than
        // this; they are written as they come instead.
        const WhenFull when_full = count < k_max_shares ? WhenFull::stop : WhenFull::write;
        std::int64_t folded = 0;
        bool full = false;
        for (std::uint64_t index = 0; index < count && !full; ++index) {
          auto records = fold(summaries, psl, senders, of_domain, 0, mark->folded_through, &seen,
                              {count, index}, when_full, limits.max_rows);
          if (!records) return tl::unexpected(records.error());
          full = !records->has_value();
          if (!full) folded += **records;
        }
        if (full) {
          // Written as they came, its sources would be looked up and written
          // again with every later batch of rows (on the 10M-record corpus
          // that was about 75 s of a 103 s ingest); the domain is done again
          // in twice as many shares, each written once. Every share reads all
          // the domain's records, so the count grows no faster than needed.
          if (auto ok = summaries.rollback_update(); !ok) return tl::unexpected(ok.error());
          count *= 2;
          continue;
        }
        result.records += folded;
        mark->rebuilt_through = *next;
      }
    } else if (mark->folded_through < *last) {
      auto end = summaries.chunk_end(mark->folded_through, *last, k_chunk_records);
      if (!end) return tl::unexpected(end.error());
      auto records = fold(summaries, psl, senders, {}, mark->folded_through, *end, nullptr, {},
                          WhenFull::write, limits.max_rows);
      if (!records) return tl::unexpected(records.error());
      result.records += **records;
      mark->folded_through = *end;
    } else {
      if (auto ok = summaries.commit_update(); !ok) return tl::unexpected(ok.error());
      if (read_ahead) drop_read_ahead();
      return result;
    }
    if (auto ok = summaries.set_mark(*mark); !ok) return tl::unexpected(ok.error());
    if (auto ok = summaries.commit_update(); !ok) return tl::unexpected(ok.error());
  }
}

Result<void> for_each_source(storage::Summaries& summaries, const SenderCatalog& senders,
                             const storage::SummaryQuery& query, bool with_samples,
                             const std::function<bool(SourceRow&&)>& sink) {
  std::optional<Error> error;
  std::unordered_map<std::int64_t, std::string> reporter_names;
  const auto add_samples = [&](SourceRow& row) -> Result<void> {
    for (std::int64_t id : row.reporter_ids) {
      auto it = reporter_names.find(id);
      if (it == reporter_names.end()) {
        auto name = summaries.name(id);
        if (!name) return tl::unexpected(name.error());
        it = reporter_names.emplace(id, std::move(*name)).first;
      }
      row.reporters.push_back(it->second);
    }
    std::sort(row.reporters.begin(), row.reporters.end());
    if (row.sample_record == 0) return {};
    auto sample = summaries.record(row.sample_record);
    if (!sample) return tl::unexpected(sample.error());
    if (*sample) row.sample_auth = describe_auth(**sample);
    return {};
  };
  auto scanned = summaries.scan_sources(query, [&](storage::SourceSummary&& summary) {
    SourceRow row;
    auto ok = from_summary(summary, senders, row);
    if (ok && with_samples) ok = add_samples(row);
    if (!ok) {
      error = ok.error();
      return false;
    }
    return sink(std::move(row));
  });
  if (!scanned) return tl::unexpected(scanned.error());
  if (error) return tl::unexpected(*error);
  return {};
}

Result<std::vector<DomainRow>> load_domains(storage::Summaries& summaries,
                                            const std::optional<std::string>& policy_domain) {
  auto stored = summaries.load_domains();
  if (!stored) return tl::unexpected(stored.error());
  std::vector<DomainRow> rows;
  for (const auto& [domain, bytes] : *stored) {
    if (policy_domain && domain != *policy_domain) continue;
    DomainState state;
    if (!decode_domain(bytes, state)) {
      return fail(Errc::database, domain, "corrupt database: malformed domain summary");
    }
    DomainRow& row = rows.emplace_back(std::move(state.totals));
    row.domain = domain;
    auto policy = summaries.latest_policy(domain);
    if (!policy) return tl::unexpected(policy.error());
    if (*policy) row.policy = **policy;
    recommend(row);
  }
  std::stable_sort(rows.begin(), rows.end(),
                   [](const DomainRow& a, const DomainRow& b) { return a.messages > b.messages; });
  return rows;
}

}  // namespace dmarcsift::analysis
