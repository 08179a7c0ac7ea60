// Linked into every fuzz target. UBSan only prints a report and carries on by
// default, so libFuzzer would never see it as a failure: stop at the first
// one. Set here rather than in UBSAN_OPTIONS so that replaying a crash file by
// hand (./fuzz_x crash-file) behaves exactly like the fuzzing run.
extern "C" const char* __ubsan_default_options();
extern "C" const char* __ubsan_default_options() { return "halt_on_error=1:print_stacktrace=1"; }
