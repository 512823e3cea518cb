// with_rlimit RESOURCE SOFT HARD PROGRAM ARGS...: the native oracle of the
// sandbox tests: runs PROGRAM with one limit set as elfuse's option sets it
// for the guest (RESOURCE: cpu, fsize or nofile).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

int main(int argc, char** argv) {
  if (argc < 5) {
    fprintf(stderr, "usage: with_rlimit cpu|fsize|nofile SOFT HARD PROGRAM ARGS...\n");
    return 2;
  }
  int r = !strcmp(argv[1], "cpu") ? RLIMIT_CPU : !strcmp(argv[1], "fsize") ? RLIMIT_FSIZE
                                                                           : RLIMIT_NOFILE;
  struct rlimit lim = {strtoull(argv[2], 0, 0), strtoull(argv[3], 0, 0)};
  if (setrlimit(r, &lim) != 0) {
    perror("setrlimit");
    return 2;
  }
  execv(argv[4], argv + 4);
  perror("execv");
  return 127;
}
