// preadv2/pwritev2 with offsets (-1: the file position, other negatives
// EINVAL), RWF_* flags (known ones act, unknown ones EOPNOTSUPP), pipes
// (ESPIPE for an offset, RWF_NOWAIT on an empty pipe EAGAIN), bad fds and
// buffers; readahead and sync_file_range with their argument checks.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "common.h"
#include "own_dir.h"

#ifndef RWF_HIPRI
#define RWF_HIPRI 0x1
#define RWF_DSYNC 0x2
#define RWF_SYNC 0x4
#define RWF_NOWAIT 0x8
#define RWF_APPEND 0x10
#endif
#ifndef RWF_NOAPPEND
#define RWF_NOAPPEND 0x20
#endif

static long rv2(int fd, struct iovec* iov, int n, long pos, int flags) {
  return syscall(SYS_preadv2, fd, iov, n, pos, 0, flags);
}
static long wv2(int fd, struct iovec* iov, int n, long pos, int flags) {
  return syscall(SYS_pwritev2, fd, iov, n, pos, 0, flags);
}

int main(void) {
  own_dir_enter();
  int fd = open("f", O_RDWR | O_CREAT | O_TRUNC, 0600);
  char a[] = "hello ", b[] = "world";
  struct iovec w[2] = {{a, 6}, {b, 5}};
  SHOW(wv2(fd, w, 2, -1, 0));
  SHOW(lseek(fd, 0, SEEK_CUR));
  SHOW(wv2(fd, w, 2, 100, RWF_DSYNC));
  SHOW(lseek(fd, 0, SEEK_CUR));
  SHOW(wv2(fd, w, 1, 0, RWF_SYNC));
  SHOW(wv2(fd, w, 1, -2, 0));
  SHOW(wv2(fd, w, 1, 0, 0x10000000));
  SHOW(wv2(fd, w, 1, 0, RWF_NOWAIT));
  SHOW(wv2(fd, w, 1, -1, RWF_HIPRI));
  SHOW(lseek(fd, 0, SEEK_CUR));

  char x[8] = {0}, y[8] = {0};
  struct iovec r[2] = {{x, 3}, {y, 7}};
  SHOW(rv2(fd, r, 2, 0, 0));
  printf("read '%.3s' '%.7s'\n", x, y);
  SHOW(lseek(fd, 0, SEEK_SET));
  SHOW(rv2(fd, r, 2, -1, 0));
  SHOW(lseek(fd, 0, SEEK_CUR));
  SHOW(rv2(fd, r, 2, 106, RWF_NOWAIT));
  SHOW(rv2(fd, r, 2, 5000, 0));
  SHOW(rv2(fd, r, 2, -5, 0));
  SHOW(rv2(fd, r, 2, 0, 0x40000000));
  SHOW(rv2(fd, r, 0, 0, 0));
  SHOW(rv2(fd, r, 0, -1, 0x40000000));
  SHOW(rv2(fd, r, 1025, 0, 0));
  SHOW(rv2(fd, (struct iovec*)8, 1, 0, 0));
  struct iovec bad[2] = {{x, 3}, {(void*)8, 4}};
  SHOW(rv2(fd, bad, 2, 0, 0));
  struct iovec allbad[1] = {{(void*)8, 4}};
  SHOW(rv2(fd, allbad, 1, 0, 0));
  struct iovec neg[1] = {{x, (size_t)-1}};
  SHOW(rv2(fd, neg, 1, 0, 0));
  SHOW(rv2(999, r, 2, 0, 0));
  SHOW(rv2(999, r, 2, -3, 0));
  SHOW(rv2(1030, r, 2, 0, 0));
  SHOW(wv2(1030, w, 2, -1, 0));
  SHOW(rv2(-1, (struct iovec*)8, 1, -1, 0));

  // RWF_APPEND writes at the end whatever the offset; O_APPEND with
  // RWF_NOAPPEND writes at the offset.
  SHOW(wv2(fd, w, 1, 0, RWF_APPEND));
  struct stat st;
  fstat(fd, &st);
  printf("size %ld\n", (long)st.st_size);
  int afd = open("f", O_RDWR | O_APPEND);
  SHOW(wv2(afd, w + 1, 1, 1, RWF_NOAPPEND));
  memset(x, 0, sizeof x);
  pread(fd, x, 6, 0);
  printf("head '%.6s'\n", x);
  close(afd);

  // Read-only fd, write-only fd.
  int ro = open("f", O_RDONLY);
  SHOW(wv2(ro, w, 1, 0, 0));
  SHOW(wv2(ro, (struct iovec*)8, 1, 0, 0));
  int wo = open("f", O_WRONLY);
  SHOW(rv2(wo, r, 1, 0, 0));

  // Pipes: no offsets; RWF_NOWAIT on an empty pipe.
  int p[2];
  pipe(p);
  SHOW(rv2(p[0], r, 1, 0, 0));
  SHOW(rv2(p[0], r, 1, -1, RWF_NOWAIT));
  SHOW(wv2(p[1], w, 2, -1, 0));
  SHOW(rv2(p[0], r, 2, -1, 0));
  printf("pipe '%.3s' '%.7s'\n", x, y);

  // A buffer across two mappings (a host iovec each under elfuse).
  char* m = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  mprotect(m + 4096, 4096, PROT_READ | PROT_WRITE | PROT_EXEC);
  struct iovec span[1] = {{m + 4090, 11}};
  SHOW(rv2(fd, span, 1, 0, 0));
  printf("span '%.11s'\n", m + 4090);

  // readahead(fd, offset, count) and sync_file_range(fd, off, n, flags).
  SHOW(syscall(SYS_readahead, fd, 0L, 4096L));
  SHOW(syscall(SYS_readahead, fd, -1L, 4096L));
  SHOW(syscall(SYS_readahead, 999, 0L, 4096L));
  SHOW(syscall(SYS_readahead, p[0], 0L, 4096L));
  SHOW(syscall(SYS_readahead, wo, 0L, 4096L));
  SHOW(syscall(SYS_sync_file_range, fd, 0L, 0L, 7));
  SHOW(syscall(SYS_sync_file_range, fd, 0L, 100L, 2));
  SHOW(syscall(SYS_sync_file_range, fd, 0L, 0L, 8));
  SHOW(syscall(SYS_sync_file_range, fd, -1L, 0L, 1));
  SHOW(syscall(SYS_sync_file_range, fd, 0L, -1L, 1));
  SHOW(syscall(SYS_sync_file_range, 999, 0L, 0L, 1));
  SHOW(syscall(SYS_sync_file_range, p[0], 0L, 0L, 1));
  return 0;
}
