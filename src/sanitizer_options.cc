// Defaults of the sanitizer runtimes in an ELFUSE_SANITIZE build
// (CMakeLists.txt). The guest inherits elfuse's environment, so they are
// compiled in rather than set in ASAN_OPTIONS. ASAN_OPTIONS and
// UBSAN_OPTIONS still override them.
//
// detect_leaks=0: LeakSanitizer stops the world with ptrace at exit, which
// elfuse's self-confinement refuses (base/self_confine.h), and elfuse ends
// guest processes with _exit, leaving what it allocated for the kernel to
// free. print_stacktrace=1: UBSan's reports name the path.
#ifdef ELFUSE_SANITIZE

extern "C" {

[[gnu::visibility("default"), gnu::used]] const char* __asan_default_options() {
  return "detect_leaks=0:print_summary=1";
}

[[gnu::visibility("default"), gnu::used]] const char* __ubsan_default_options() {
  return "print_stacktrace=1";
}

}  // extern "C"

#endif
