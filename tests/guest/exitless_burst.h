// Shared by the exitless tests: a burst of allowlisted calls close together,
// which wakes (or creates) the calling thread's exitless worker under elfuse
// (docs/internals.md, "Syscalls without an exit"). Natively just n fstat and
// 1-byte pread calls on /dev/zero.
#ifndef ELFUSE_TESTS_GUEST_EXITLESS_BURST_H
#define ELFUSE_TESTS_GUEST_EXITLESS_BURST_H

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

static void exitless_burst(int n) {
  struct stat st;
  char c;
  int fd = open("/dev/zero", O_RDONLY);
  for (int i = 0; i < n; i++) {
    fstat(fd, &st);
    (void)!pread(fd, &c, 1, 0);
  }
  close(fd);
}

#endif
