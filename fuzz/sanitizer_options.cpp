// Linked into every fuzz target. UBSan only prints a report and carries on by
// default, so libFuzzer would never see it as a failure: stop at the first
// one. Set here rather than in UBSAN_OPTIONS so that replaying a crash file by
// hand (./fuzz_x crash-file) behaves exactly like the fuzzing run.
extern "C" const char* __ubsan_default_options();
extern "C" const char* __ubsan_default_options() { return "halt_on_error=1:print_stacktrace=1"; }

// GMime 3.2.13 (Debian 12) loses the address it has read when an address
// header ends in an unclosed comment after a domain literal: "From: t@[]("
// leaks 128 bytes of a GString grown inside g_mime_parser_construct_message
// (upstream jstedfast/gmime#159 and its kin; fuzz/regressions/fuzz_containers/
// keeps the input). GLib has no frame pointers, so the stack LeakSanitizer
// records while fuzzing ends at g_realloc; that is what the suppression
// names. dmarcsift never calls g_realloc, and with G_SLICE=always-malloc
// (scripts/fuzz.sh) the GMime objects it holds are allocated otherwise, so
// a leak of its own still shows (checked by leaving a message referenced);
// so does any leak in the unit tests' ASan run, which does not link this
// file.
extern "C" const char* __lsan_default_suppressions();
extern "C" const char* __lsan_default_suppressions() { return "leak:g_realloc\n"; }

