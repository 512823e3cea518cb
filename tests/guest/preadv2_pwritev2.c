// preadv2/pwritev2: positional and at the file position (offset -1), the
// RWF_* flags (unknown ones EOPNOTSUPP after the iovec is read), and the
// errors of the fd and iovec.
#include <fcntl.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "common.h"

#ifndef RWF_HIPRI
#define RWF_HIPRI 1
#define RWF_DSYNC 2
#define RWF_SYNC 4
#define RWF_NOWAIT 8
#define RWF_APPEND 16
#endif

static long p2(long nr, int fd, struct iovec* iov, int n, long off, int flags) {
  return syscall(nr, fd, iov, n, off, 0, flags);
}

int main(void) {
  char path[] = "/tmp/elfuse-preadv2-XXXXXX";
  int fd = mkstemp(path);
  unlink(path);
  char a[] = "hello ", b[] = "world\n";
  struct iovec w[2] = {{a, 6}, {b, 6}};
  SHOW(p2(SYS_pwritev2, fd, w, 2, 0, 0));
  SHOW(lseek(fd, 0, SEEK_CUR));
  SHOW(p2(SYS_pwritev2, fd, w, 1, -1, 0));  // at the file position
  SHOW(lseek(fd, 0, SEEK_CUR));
  SHOW(p2(SYS_pwritev2, fd, w + 1, 1, 100, RWF_DSYNC));
  SHOW(p2(SYS_pwritev2, fd, w + 1, 1, 0, RWF_APPEND));  // appends despite the offset
  SHOW(lseek(fd, 0, SEEK_END));

  char x[8] = {0}, y[8] = {0};
  struct iovec r[2] = {{x, 3}, {y, 5}};
  SHOW(p2(SYS_preadv2, fd, r, 2, 6, 0));
  printf("read: [%.3s][%.5s]\n", x, y);
  lseek(fd, 0, SEEK_SET);
  SHOW(p2(SYS_preadv2, fd, r, 2, -1, 0));
  printf("read: [%.3s][%.5s]\n", x, y);
  SHOW(lseek(fd, 0, SEEK_CUR));
  SHOW(p2(SYS_preadv2, fd, r, 2, 0, RWF_NOWAIT));
  SHOW(p2(SYS_preadv2, fd, r, 2, 0, RWF_HIPRI));
  SHOW(p2(SYS_preadv2, fd, r, 2, 0, 0x10000));
  SHOW(p2(SYS_preadv2, fd, (struct iovec*)8, 2, 0, 0x10000));  // EFAULT first
  SHOW(p2(SYS_preadv2, fd, r, 2000, 0, 0));
  SHOW(p2(SYS_preadv2, 9999, r, 2, 0, 0));
  SHOW(p2(SYS_preadv2, fd, r, 0, 0, 0));
  SHOW(p2(SYS_preadv2, fd, r, 2, -2, 0));
  SHOW(p2(SYS_pwritev2, fd, w, 2, -5, 0));
  int ro = open("/dev/null", O_RDONLY);
  SHOW(p2(SYS_pwritev2, ro, w, 2, 0, 0));
  int pfd[2];
  pipe(pfd);
  SHOW(p2(SYS_pwritev2, pfd[1], w, 2, -1, 0));
  SHOW(p2(SYS_preadv2, pfd[0], r, 2, -1, RWF_NOWAIT));
  SHOW(p2(SYS_preadv2, pfd[0], r, 2, -1, RWF_NOWAIT));
  SHOW(p2(SYS_preadv2, pfd[0], r, 2, 0, 0));
  return 0;
}
