// readv/preadv/pwritev and getdents64 with a buffer whose tail is unmapped:
// Linux copies up to the fault and returns that short count (EFAULT only when
// nothing moved); getdents64 returns the entries that fit before the fault
// and keeps the directory position after them.
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "common.h"

struct entry64 {
  uint64_t ino;
  int64_t off;
  unsigned short reclen;
  unsigned char type;
  char name[];
};

static long count_entries(int dfd, char* buf, size_t len) {
  long names = 0;
  for (;;) {
    long n = syscall(SYS_getdents64, dfd, buf, len);
    if (n <= 0) return n < 0 ? -1 : names;
    for (long off = 0; off < n;) {
      struct entry64* d = (struct entry64*)(buf + off);
      names++;
      off += d->reclen;
    }
  }
}

int main(void) {
  char dir[] = "/tmp/rwpXXXXXX";
  if (!mkdtemp(dir)) return 1;
  char path[128];
  snprintf(path, sizeof path, "%s/data", dir);
  int fd = open(path, O_RDWR | O_CREAT, 0600);
  static char data[16384];
  for (unsigned i = 0; i < sizeof data; i++) data[i] = (char)('a' + i % 26);
  if (write(fd, data, sizeof data) != (long)sizeof data) return 1;

  char* m = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  munmap(m + 2 * 4096, 4096);
  struct iovec iov[2] = {{m, 4096}, {m + 4096, 8192}};
  SHOW(preadv(fd, iov, 2, 0));
  CHECK(memcmp(m, data, 8192) == 0);
  lseek(fd, 0, SEEK_SET);
  SHOW(readv(fd, iov, 2));
  SHOW(lseek(fd, 0, SEEK_CUR));
  struct iovec one = {m + 100, 12000};
  SHOW(preadv(fd, &one, 1, 0));
  CHECK(memcmp(m + 100, data, 8092) == 0);
  struct iovec none = {m + 2 * 4096, 100};
  SHOW(preadv(fd, &none, 1, 0));
  struct iovec tail[2] = {{m, 10}, {m + 2 * 4096, 100}};
  SHOW(preadv(fd, tail, 2, 0));
  memset(m, 'Z', 8192);
  SHOW(pwritev(fd, iov, 2, 100));
  char back[8200];
  SHOW(pread(fd, back, sizeof back, 100));
  CHECK(memcmp(back, m, 8192) == 0);
  SHOW(pwritev(fd, &none, 1, 0));
  SHOW(read(fd, m + 4096 + 3000, 5000));

  char sub[160];
  snprintf(sub, sizeof sub, "%s/d", dir);
  mkdir(sub, 0700);
  for (int i = 0; i < 40; i++) {
    char f[200];
    snprintf(f, sizeof f, "%s/entry-with-a-longish-name-%02d", sub, i);
    close(open(f, O_CREAT | O_WRONLY, 0600));
  }
  int dfd = open(sub, O_RDONLY | O_DIRECTORY);
  long first = SHOW(syscall(SYS_getdents64, dfd, m + 2 * 4096 - 200, 4096));
  CHECK(first > 0 && first <= 200);
  long names = 0;
  for (long off = 0; off < first;) {
    struct entry64* d = (struct entry64*)(m + 2 * 4096 - 200 + off);
    names++;
    off += d->reclen;
  }
  SHOW(syscall(SYS_getdents64, dfd, m + 2 * 4096 - 10, 4096));
  SHOW(syscall(SYS_getdents64, dfd, m + 2 * 4096, 4096));
  long rest = count_entries(dfd, m, 4096);
  printf("entries in all: %ld\n", names + rest);
  close(dfd);
  for (int i = 0; i < 40; i++) {
    char f[200];
    snprintf(f, sizeof f, "%s/entry-with-a-longish-name-%02d", sub, i);
    unlink(f);
  }
  rmdir(sub);
  unlink(path);
  rmdir(dir);
  return 0;
}
