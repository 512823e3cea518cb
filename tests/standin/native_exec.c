// A stand-in for elfuse that runs PROGRAM natively (execv, no PATH search, no
// shell fallback), so that every native-vs-elfuse comparison must pass with it:
//   ELFUSE=$PWD/build/tests/native_exec ctest --test-dir build -L elfuse
// Built with -DBROKEN (build/tests/broken_exec) it first prints an extra line, so
// every comparison must fail. The harness.* tests use both to test compare.sh.
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s PROGRAM [ARGS...]\n", argv[0]);
    return 2;
  }
#ifdef BROKEN
  printf("this line is not printed by the program\n");
  fflush(stdout);
#endif
  execv(argv[1], argv + 1);
  int e = errno;
  fprintf(stderr, "native_exec: %s: %s\n", argv[1], strerror(e));
  return e == ENOENT ? 127 : 126;
}
