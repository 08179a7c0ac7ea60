#include "ingest/ingester.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <malloc.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <optional>
#include <system_error>
#include <thread>
#include <utility>

#include "ingest/archive.hpp"
#include "ingest/input_reader.hpp"
#include "ingest/mail.hpp"

namespace dmarcsift::ingest {
namespace {

// Commit at least this often so that a killed run loses little work and a
// long run's WAL stays small.
constexpr std::int64_t k_batch_reports = 2000;
// Workers take consecutive inputs in chunks, so that threads hand over work
// a few hundred times per run rather than once per small file: per-file
// hand-over cost 28,500 context switches on a 24,425-file corpus. A chunk
// ends at 64 inputs or 256 KiB of input bytes, and each worker reads at most
// two chunks ahead of the storing thread, so memory stays bounded by a few
// chunks, not by the corpus.
constexpr std::size_t k_chunk_inputs = 64;
constexpr std::uint64_t k_chunk_bytes = 256 << 10;
constexpr std::size_t k_chunks_ahead_per_worker = 2;
// An mbox at least this large is split into its messages before reading, so
// that they are parsed in parallel and only a window of them is held parsed
// (200k-record mbox: 6.3 s and 200 MB RSS when read as one input).
constexpr std::uint64_t k_split_mbox_bytes = 1 << 20;
// A large report's records, freed by a worker, leave holes in the malloc
// arena of the worker that parsed them, which glibc keeps while the next
// large report is parsed into another arena; they are handed back after
// each report of this many records (the 40 largest reports of the
// 10M-record corpus: peak RSS 149 MB, against 173 MB untrimmed). Trimming
// after every 10,000 records freed, in any reports, cost the 2M-record
// ingest 2.5-4.5 s of system time.
constexpr std::size_t k_trim_after_report_records = 20000;

// Reads a whole file; the error is already in words for the summary.
Result<std::string> read_whole_file(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return fail(Errc::io, path.string(), std::string("cannot open: ") + std::strerror(errno));
  std::string bytes;
  struct stat info {};
  if (::fstat(fd, &info) == 0 && info.st_size > 0) bytes.reserve(static_cast<std::size_t>(info.st_size));
  char buffer[1 << 16];
  for (;;) {
    const ssize_t got = ::read(fd, buffer, sizeof buffer);
    if (got == 0) break;
    if (got < 0) {
      if (errno == EINTR) continue;
      const int saved = errno;
      ::close(fd);
      return fail(Errc::io, path.string(), std::string("cannot read: ") + std::strerror(saved));
    }
    bytes.append(buffer, static_cast<std::size_t>(got));
  }
  ::close(fd);
  return bytes;
}

// One input to read: a file, or bytes already in memory (stdin), or a path
// that could not be read, with the reason.
struct Job {
  std::string path;
  std::optional<std::string> bytes;
  std::string unreadable;
  std::uint64_t size = 0;  // bytes on disk, to size chunks
};

// The job's bytes, or why there are none.
Result<std::string> job_bytes(Job& job) {
  if (!job.unreadable.empty()) return fail(Errc::io, job.path, job.unreadable);
  if (job.bytes) {
    std::string bytes = std::move(*job.bytes);
    job.bytes.reset();
    return bytes;
  }
  return read_whole_file(job.path);
}

std::vector<ParsedInput> read_job(Job& job, const Limits& limits) {
  auto bytes = job_bytes(job);
  if (!bytes) return {unreadable_input(job.path, bytes.error().what)};
  return read_input(job.path, *bytes, limits);
}

// When `path` is an mbox, adds one job per message and returns true.
bool split_mbox(const std::string& path, std::vector<Job>& jobs) {
  char head[5] = {};
  {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    const ssize_t got = ::read(fd, head, sizeof head);
    ::close(fd);
    if (got != static_cast<ssize_t>(sizeof head) || std::string_view(head, 5) != "From ") return false;
  }
  auto bytes = read_whole_file(path);
  if (!bytes) return false;  // reported when the job reads it again
  const std::size_t before = jobs.size();
  for_each_mbox_message(*bytes, [&](std::size_t index, std::string&& message) {
    const std::uint64_t size = message.size();
    jobs.push_back({path + "#" + std::to_string(index), std::move(message), "", size});
  });
  if (jobs.size() == before) {
    jobs.push_back({path, std::nullopt, "mbox file holds no message"});
  }
  return true;
}

// Expands `path` into jobs: a file is one; a directory is walked in name
// order. Maildir delivers into tmp/ and renames into new/ when complete, so
// what is still in a Maildir's tmp/ may be half written and is skipped.
// A file larger than the limit on one input's decompressed bytes can never
// be accepted, so it is refused before it is read into memory.
void add_file_job(const std::string& path, const struct stat& info, const Limits& limits,
                  std::vector<Job>& jobs) {
  const auto size = static_cast<std::uint64_t>(info.st_size);
  if (size > limits.max_input_bytes) {
    jobs.push_back({path, std::nullopt,
                    "file is " + std::to_string(size) + " bytes, more than " +
                        std::to_string(limits.max_input_bytes) + " (limit max_input_bytes)"});
    return;
  }
  if (size < k_split_mbox_bytes || !split_mbox(path, jobs)) jobs.push_back({path, std::nullopt, "", size});
}

void collect_directory(const std::string& path, const Limits& limits, std::vector<Job>& jobs);

void collect_jobs(const std::string& path, const Limits& limits, std::vector<Job>& jobs) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) {
    jobs.push_back({path, std::nullopt,
                    errno == ENOENT ? std::string("no such file or directory")
                                    : std::string("cannot access: ") + std::strerror(errno)});
    return;
  }
  if (S_ISDIR(info.st_mode)) {
    collect_directory(path, limits, jobs);
  } else {
    add_file_job(path, info, limits, jobs);
  }
}

// Lists with readdir and fstatat relative to the open directory: on a
// 24,425-file corpus, stat()ing every full path and sorting std::filesystem
// paths took 7 % of the storing thread's time, before any worker could start.
void collect_directory(const std::string& path, const Limits& limits, std::vector<Job>& jobs) {
  struct CloseDir {
    void operator()(DIR* dir) const noexcept { ::closedir(dir); }
  };
  const std::unique_ptr<DIR, CloseDir> dir(::opendir(path.c_str()));
  if (!dir) {
    jobs.push_back({path, std::nullopt, std::string("cannot list directory: ") + std::strerror(errno)});
    return;
  }
  std::vector<std::string> names;
  errno = 0;
  while (const dirent* entry = ::readdir(dir.get())) {
    const std::string_view name = entry->d_name;
    if (name != "." && name != "..") names.emplace_back(name);
  }
  if (errno != 0) {
    jobs.push_back({path, std::nullopt, std::string("cannot list directory: ") + std::strerror(errno)});
    return;
  }
  std::sort(names.begin(), names.end());
  const bool is_maildir = std::binary_search(names.begin(), names.end(), "cur") &&
                          std::binary_search(names.begin(), names.end(), "new");
  const std::string prefix = path.empty() || path.back() == '/' ? path : path + '/';
  for (const std::string& name : names) {
    if (is_maildir && name == "tmp") continue;
    const std::string child = prefix + name;
    struct stat info {};
    if (::fstatat(::dirfd(dir.get()), name.c_str(), &info, 0) != 0) {
      jobs.push_back({child, std::nullopt, std::string("cannot access: ") + std::strerror(errno)});
    } else if (S_ISDIR(info.st_mode)) {
      collect_directory(child, limits, jobs);
    } else {
      add_file_job(child, info, limits, jobs);
    }
  }
}

// Splits `jobs` into consecutive chunks; returns the index where each ends.
std::vector<std::size_t> chunk_ends(const std::vector<Job>& jobs) {
  std::vector<std::size_t> ends;
  std::size_t count = 0;
  std::uint64_t bytes = 0;
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    ++count;
    bytes += jobs[i].size;
    if (count == k_chunk_inputs || bytes >= k_chunk_bytes || i + 1 == jobs.size()) {
      ends.push_back(i + 1);
      count = 0;
      bytes = 0;
    }
  }
  return ends;
}

}  // namespace

class Ingester::Impl {
 public:
  Impl(storage::Store& store, IngestOptions options)
      : m_store(store), m_options(std::move(options)) {}

  Result<void> ingest_path(const std::filesystem::path& path) {
    std::vector<Job> jobs;
    collect_jobs(path.string(), m_options.limits, jobs);
    return run(jobs);
  }

  Result<void> ingest_bytes(std::string_view name, std::string bytes) {
    std::vector<Job> jobs;
    const std::uint64_t size = bytes.size();
    jobs.push_back({std::string(name), std::move(bytes), "", size});
    return run(jobs);
  }

  Result<void> finish() {
    if (!m_in_batch) return {};
    m_in_batch = false;
    return m_store.commit_batch();
  }

  const IngestSummary& summary() const { return m_summary; }

 private:
  // Reads the jobs on worker threads, in parallel, and stores their results
  // on this thread in job order, so the outcome does not depend on timing.
  Result<void> run(std::vector<Job>& jobs) {
    const unsigned wanted = m_options.threads != 0 ? m_options.threads
                                                   : std::max(1u, std::thread::hardware_concurrency());
    const std::size_t workers = std::min<std::size_t>(wanted, jobs.size());
    if (workers <= 1) {
      for (Job& job : jobs) {
        for (ParsedInput& input : read_job(job, m_options.limits)) {
          if (auto stored = store_input(input); !stored) return stored;
        }
      }
      return {};
    }
    Result<void> outcome = run_workers(jobs, workers);
    release_freed_memory();
    return outcome;
  }

  // The workers free what they parsed in their own malloc arenas, which
  // glibc keeps for reuse rather than return; the fold that follows an ingest
  // allocates on other threads. Handing those pages back lowered the peak RSS
  // of a 2M-record ingest from about 150 to 137 MB.
  static void release_freed_memory() {
#ifdef __GLIBC__
    malloc_trim(0);
#endif
  }

  Result<void> run_workers(std::vector<Job>& jobs, std::size_t workers) {
    const std::vector<std::size_t> ends = chunk_ends(jobs);
    const std::size_t window = workers * k_chunks_ahead_per_worker;
    std::vector<std::optional<std::vector<ParsedInput>>> results(ends.size());
    std::mutex mutex;
    std::condition_variable result_ready;
    std::condition_variable room_ready;
    std::size_t next_chunk = 0;
    std::size_t consumed = 0;
    std::size_t records_ahead = 0;  // in the parsed chunks not yet taken to be stored
    // What the worker that read a chunk found in it.
    struct ChunkTally {
      std::size_t records = 0;
      // declared_unpacked_bytes() of its inputs, from when each is unpacked
      // until the chunk is stored.
      std::uint64_t documents = 0;
      bool large_report = false;  // one of k_trim_after_report_records or more
    };
    std::vector<ChunkTally> tallies(ends.size());
    std::uint64_t documents = 0;  // of all chunks; those before stored_through are stored
    std::size_t stored_through = 0;
    // Whether an input of `expected` bytes may be unpacked now for `chunk`.
    // The oldest chunk not stored always may, so something always moves;
    // the others count every chunk not stored, earlier or later, since an
    // earlier one may not have come to its largest input yet.
    const auto documents_fit = [&](std::size_t chunk, std::uint64_t expected) {
      return chunk == stored_through ||
             documents + expected <= m_options.documents_ahead_bytes;
    };
    bool stopping = false;
    // Stored chunks go back to the workers to be freed: the storing thread
    // is the bottleneck, and freeing parsed reports cost it 16 % of its time.
    std::vector<std::vector<ParsedInput>> stored_chunks;
    bool stored_large_report = false;  // among them

    // Waits until `ready`, freeing the chunks stored meanwhile: a worker
    // that only woke to find it must still wait would leave them to pile up.
    const auto wait_freeing = [&](std::unique_lock<std::mutex>& lock, const auto& ready) {
      for (;;) {
        room_ready.wait(lock, [&] { return ready() || !stored_chunks.empty(); });
        if (stored_chunks.empty()) return;
        std::vector<std::vector<ParsedInput>> to_free;
        to_free.swap(stored_chunks);
        const bool trim = std::exchange(stored_large_report, false);
        lock.unlock();
        to_free.clear();
        if (trim) release_freed_memory();
        lock.lock();
      }
    };

    const auto work = [&] {
      for (;;) {
        std::size_t chunk = 0;
        {
          std::unique_lock lock(mutex);
          wait_freeing(lock, [&] {
            return stopping || (next_chunk < consumed + window &&
                                (next_chunk == consumed || records_ahead < m_options.records_ahead));
          });
          if (stopping || next_chunk == ends.size()) return;
          chunk = next_chunk++;
        }
        std::vector<ParsedInput> parsed;
        for (std::size_t job = chunk == 0 ? 0 : ends[chunk - 1]; job < ends[chunk]; ++job) {
          auto bytes = job_bytes(jobs[job]);
          if (!bytes) {
            parsed.push_back(unreadable_input(jobs[job].path, bytes.error().what));
            continue;
          }
          const std::uint64_t expected = declared_unpacked_bytes(*bytes);
          {
            std::unique_lock lock(mutex);
            wait_freeing(lock, [&] { return stopping || documents_fit(chunk, expected); });
            if (stopping) break;
            tallies[chunk].documents += expected;
            documents += expected;
          }
          for (ParsedInput& input : read_input(jobs[job].path, *bytes, m_options.limits)) {
            parsed.push_back(std::move(input));
          }
        }
        std::size_t records = 0;
        bool large_report = false;
        for (const ParsedInput& input : parsed) {
          for (const ParsedReport& report : input.reports) {
            records += report.report.records.size();
            large_report = large_report || report.report.records.size() >= k_trim_after_report_records;
          }
        }
        std::lock_guard lock(mutex);
        tallies[chunk].records = records;
        tallies[chunk].large_report = large_report;
        records_ahead += records;
        results[chunk] = std::move(parsed);
        result_ready.notify_all();
      }
    };
    std::vector<std::jthread> threads;
    threads.reserve(workers);
    for (std::size_t i = 0; i < workers; ++i) threads.emplace_back(work);

    Result<void> outcome;
    for (std::size_t chunk = 0; chunk < ends.size() && outcome; ++chunk) {
      std::vector<ParsedInput> inputs;
      {
        std::unique_lock lock(mutex);
        result_ready.wait(lock, [&] { return results[chunk].has_value(); });
        inputs = std::move(*results[chunk]);
        results[chunk].reset();
        records_ahead -= tallies[chunk].records;
        consumed = chunk + 1;
      }
      room_ready.notify_all();
      for (ParsedInput& input : inputs) {
        outcome = store_input(input);
        if (!outcome) break;
      }
      {
        std::lock_guard lock(mutex);
        stored_chunks.push_back(std::move(inputs));
        documents -= std::exchange(tallies[chunk].documents, 0);
        stored_large_report = stored_large_report || tallies[chunk].large_report;
        stored_through = chunk + 1;
      }
      room_ready.notify_all();
    }
    {
      std::lock_guard lock(mutex);
      stopping = true;
    }
    room_ready.notify_all();
    return outcome;
  }

  Result<void> store_input(ParsedInput& input) {
    std::int64_t stored = 0;
    std::int64_t duplicates = 0;
    std::vector<bool> message_stored(input.messages.size(), false);
    for (ParsedReport& parsed : input.reports) {
      if (auto begun = ensure_batch(); !begun) return begun;
      const storage::MailMessage* message =
          parsed.message >= 0 ? &input.messages[static_cast<std::size_t>(parsed.message)] : nullptr;
      auto outcome = m_store.add_report(parsed.report, parsed.content_hash,
                                        storage::ReportOrigin{input.path, parsed.entry, message});
      if (!outcome) return tl::unexpected(outcome.error());
      if (*outcome == storage::StoreOutcome::duplicate) {
        ++duplicates;
        continue;
      }
      ++stored;
      if (message != nullptr) message_stored[static_cast<std::size_t>(parsed.message)] = true;
      const AggregateReport& report = parsed.report;
      m_pending_records += static_cast<std::int64_t>(report.records.size());
      m_summary.records_stored += static_cast<std::int64_t>(report.records.size());
      for (const Record& record : report.records) m_summary.messages_stored += record.count;
      for (const Warning& w : report.warnings) m_summary.warnings[w.kind] += w.count;
    }
    m_summary.reports_stored += stored;
    m_summary.duplicate_reports += duplicates;
    m_pending_reports += stored;
    m_summary.emails_stored += std::count(message_stored.begin(), message_stored.end(), true);
    for (const Warning& w : input.warnings) m_summary.warnings[w.kind] += w.count;
    return log_input(input, stored, duplicates);
  }

  Result<void> ensure_batch() {
    if (m_in_batch) return {};
    if (auto begun = m_store.begin_batch(); !begun) return begun;
    m_in_batch = true;
    return {};
  }

  // Logs the input in the same transaction as its reports, so that a kill
  // never leaves a report without its log line or the reverse.
  Result<void> log_input(ParsedInput& input, std::int64_t stored, std::int64_t duplicates) {
    ++m_summary.inputs;
    storage::InputLogEntry log{input.path, "", input.content_hash, storage::InputOutcome::stored,
                               "", stored, duplicates};
    if (stored > 0) {
      ++m_summary.inputs_stored;
    } else if (duplicates > 0) {
      ++m_summary.inputs_duplicate;
      log.outcome = storage::InputOutcome::duplicate;
    } else if (input.problems.empty() && input.is_mail && !input.mail_has_candidate) {
      ++m_summary.inputs_no_report;
      log.outcome = storage::InputOutcome::no_report;
      log.reason = "no aggregate report: " + input.mail_kind_hint;
      m_summary.skipped.push_back({input.path, "", log.reason});
    } else {
      ++m_summary.inputs_rejected;
      log.outcome = storage::InputOutcome::rejected;
      if (input.problems.empty()) input.problems.push_back({input.path, "", "no aggregate report found"});
    }
    for (InputProblem& p : input.problems) {
      if (!log.reason.empty()) log.reason += "; ";
      log.reason += p.entry.empty() ? p.reason : p.entry + ": " + p.reason;
      m_summary.rejected.push_back(std::move(p));
    }
    if (auto begun = ensure_batch(); !begun) return begun;
    if (auto logged = m_store.log_input(log); !logged) return logged;

    if (m_options.progress) {
      m_options.progress(IngestProgress{m_summary.inputs, m_summary.reports_stored,
                                        m_summary.records_stored, input.path});
    }
    if (m_pending_records >= m_options.batch_records || m_pending_reports >= k_batch_reports) {
      m_pending_records = 0;
      m_pending_reports = 0;
      return finish();
    }
    return {};
  }

  storage::Store& m_store;
  IngestOptions m_options;
  IngestSummary m_summary;
  bool m_in_batch = false;
  std::int64_t m_pending_reports = 0;
  std::int64_t m_pending_records = 0;
};

Ingester::Ingester(storage::Store& store, IngestOptions options)
    : m_impl(std::make_unique<Impl>(store, std::move(options))) {}
Ingester::~Ingester() = default;

Result<void> Ingester::ingest_path(const std::filesystem::path& path) {
  return m_impl->ingest_path(path);
}
Result<void> Ingester::ingest_bytes(std::string_view name, std::string bytes) {
  return m_impl->ingest_bytes(name, std::move(bytes));
}
Result<void> Ingester::finish() { return m_impl->finish(); }
const IngestSummary& Ingester::summary() const { return m_impl->summary(); }

}  // namespace dmarcsift::ingest
