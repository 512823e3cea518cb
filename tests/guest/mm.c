// Memory: malloc, mmap/munmap/mprotect/mremap/madvise/mincore, brk. Addresses are
// random, so only relations between them are printed.
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common.h"
#include "own_dir.h"

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

#define PAGE 4096L

static int all_equal(const unsigned char* p, long n, unsigned char v) {
  for (long i = 0; i < n; i++)
    if (p[i] != v) return 0;
  return 1;
}

static void* map_or_die(void* addr, long len, int prot, int flags) {
  void* p = mmap(addr, len, prot, flags, -1, 0);
  if (p == MAP_FAILED) {
    printf("mmap failed: %s\n", errname(errno));
    exit(1);
  }
  return p;
}

// mmap returns a pointer: print "ok" or the errno.
#define MMAP(addr, len, prot, flags, fd, off)                         \
  ({                                                                  \
    errno = 0;                                                        \
    void* r_ = mmap(addr, len, prot, flags, fd, off);                 \
    printf("mmap(%s, %s, %s, %s) = %s\n", #addr, #len, #prot, #flags, \
           r_ == MAP_FAILED ? errname(errno) : "ok");                 \
    r_;                                                               \
  })

int main(void) {
  own_dir_enter();
  // malloc of many sizes, written and checked.
  int bad = 0;
  void* blocks[64];
  int nb = 0;
  for (long size = 1; size <= (32L << 20); size = size * 3 + 1) {
    unsigned char* p = malloc(size);
    if (!p) {
      bad++;
      continue;
    }
    memset(p, (int)(size & 0xff), size);
    if (!all_equal(p, size, (unsigned char)(size & 0xff))) bad++;
    if ((uintptr_t)p % 16) bad++;
    blocks[nb++] = p;
  }
  for (int i = 0; i < nb; i++) free(blocks[i]);
  void* c = calloc(1000, 1000);
  if (!all_equal(c, 1000000, 0)) bad++;
  c = realloc(c, 3000000);
  if (!all_equal(c, 1000000, 0)) bad++;
  free(c);
  printf("malloc: %d blocks, %d bad\n", nb, bad);

  // Anonymous mapping, write, read.
  unsigned char* a =
      map_or_die(NULL, 8 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
  CHECK((uintptr_t)a % PAGE == 0);
  CHECK(all_equal(a, 8 * PAGE, 0));
  memset(a, 0x5a, 8 * PAGE);
  CHECK(all_equal(a, 8 * PAGE, 0x5a));

  // mprotect: read-only still readable; PROT_NONE then back.
  OK(mprotect(a, PAGE, PROT_READ));
  CHECK(a[0] == 0x5a);
  OK(mprotect(a, PAGE, PROT_NONE));
  OK(mprotect(a, PAGE, PROT_READ | PROT_WRITE));
  a[0] = 1;
  CHECK(a[0] == 1 && a[1] == 0x5a);
  SHOW(syscall(SYS_mprotect, a + 1, PAGE, PROT_READ));  // raw: musl rounds down
  SHOW(mprotect(a, PAGE, 0x1000));

  // munmap a hole in the middle; mincore sees it.
  OK(munmap(a + 3 * PAGE, PAGE));
  unsigned char vec[8];
  SHOW(mincore(a, 3 * PAGE, vec));
  printf("mincore resident: %d %d %d\n", vec[0] & 1, vec[1] & 1, vec[2] & 1);
  SHOW(mincore(a + 3 * PAGE, PAGE, vec));
  SHOW(mincore(a + 1, PAGE, vec));
  SHOW(mprotect(a + 3 * PAGE, PAGE, PROT_READ));
  SHOW(mprotect(a + 2 * PAGE, 2 * PAGE, PROT_READ));
  SHOW(munmap(a + 1, PAGE));
  SHOW(munmap(a, 0));
  OK(munmap(a + 3 * PAGE, PAGE));  // unmapping a hole is fine

  // MAP_FIXED_NOREPLACE: EEXIST over a mapping, success in the hole.
  void* r = MMAP(a, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  r = MMAP(a + 3 * PAGE, PAGE, PROT_READ | PROT_WRITE,
           MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  CHECK(r == a + 3 * PAGE);
  CHECK(all_equal(a + 3 * PAGE, PAGE, 0));

  // MAP_FIXED replaces what is there with fresh zero pages.
  r = MMAP(a + 4 * PAGE, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
           -1, 0);
  CHECK(r == a + 4 * PAGE);
  CHECK(all_equal(a + 4 * PAGE, 2 * PAGE, 0));
  CHECK(all_equal(a + 6 * PAGE, 2 * PAGE, 0x5a));

  // madvise(MADV_DONTNEED) zeroes private anonymous memory.
  memset(a + 4 * PAGE, 7, 2 * PAGE);
  OK(madvise(a + 4 * PAGE, 2 * PAGE, MADV_DONTNEED));
  CHECK(all_equal(a + 4 * PAGE, 2 * PAGE, 0));
  SHOW(madvise(a, PAGE, 12345));
  SHOW(madvise(a + 1, PAGE, MADV_NORMAL));
  OK(madvise(a, 8 * PAGE, MADV_WILLNEED));

  // Bad arguments.
  MMAP(NULL, 0, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  MMAP(NULL, PAGE, PROT_READ, MAP_ANONYMOUS, -1, 0);
  MMAP(NULL, PAGE, PROT_READ, MAP_PRIVATE | MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  MMAP(a + 1, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
  MMAP(NULL, PAGE, PROT_READ, MAP_PRIVATE, 999, 0);
  MMAP(NULL, PAGE, PROT_READ, MAP_PRIVATE, -1, 0);
  MMAP(NULL, -PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  MMAP(NULL, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 1);
  MMAP((void*)(1UL << 47), PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
  int dirfd = open("/", O_RDONLY);
  MMAP(NULL, PAGE, PROT_READ, MAP_PRIVATE, dirfd, 0);
  close(dirfd);

  // mremap: shrink in place, grow blocked without MAYMOVE, grow with MAYMOVE,
  // move to a fixed place.
  unsigned char* m =
      map_or_die(NULL, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
  for (int i = 0; i < 4; i++) memset(m + i * PAGE, 'A' + i, PAGE);
  r = mremap(m, 4 * PAGE, 2 * PAGE, 0);
  CHECK(r == m);
  // Something right after m + 2 pages, so growing in place fails.
  unsigned char* blocker =
      mmap(m + 2 * PAGE, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  CHECK(blocker == m + 2 * PAGE);
  errno = 0;
  r = mremap(m, 2 * PAGE, 3 * PAGE, 0);
  printf("mremap grow without MAYMOVE: %s\n", r == MAP_FAILED ? errname(errno) : "ok");
  unsigned char* g = mremap(m, 2 * PAGE, 16 * PAGE, MREMAP_MAYMOVE);
  CHECK(g != MAP_FAILED);
  CHECK(g != m);
  CHECK(all_equal(g, PAGE, 'A') && all_equal(g + PAGE, PAGE, 'B'));
  CHECK(all_equal(g + 2 * PAGE, 14 * PAGE, 0));
  g[16 * PAGE - 1] = 9;
  unsigned char* target = map_or_die(NULL, 32 * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS);
  unsigned char* mv =
      mremap(g, 16 * PAGE, 16 * PAGE, MREMAP_MAYMOVE | MREMAP_FIXED, target + 8 * PAGE);
  CHECK(mv == target + 8 * PAGE);
  CHECK(mv[0] == 'A' && mv[PAGE] == 'B' && mv[16 * PAGE - 1] == 9);
  SHOW(mincore(g, PAGE, vec));  // the old place is gone
  errno = 0;
  r = mremap(mv + 1, PAGE, 2 * PAGE, MREMAP_MAYMOVE);
  printf("mremap unaligned: %s\n", r == MAP_FAILED ? errname(errno) : "ok");
  errno = 0;
  r = mremap(mv, PAGE, 0, MREMAP_MAYMOVE);
  printf("mremap to size 0: %s\n", r == MAP_FAILED ? errname(errno) : "ok");
  errno = 0;
  r = mremap(mv, PAGE, PAGE, MREMAP_FIXED, target);
  printf("mremap FIXED without MAYMOVE: %s\n", r == MAP_FAILED ? errname(errno) : "ok");
  errno = 0;
  r = mremap(g, PAGE, 2 * PAGE, MREMAP_MAYMOVE);
  printf("mremap of unmapped memory: %s\n", r == MAP_FAILED ? errname(errno) : "ok");
  OK(munmap(target, 32 * PAGE));
  OK(munmap(blocker, PAGE));
  OK(munmap(a, 8 * PAGE));

  // Shared anonymous memory, and a private file mapping. MAP_SHARED file
  // mappings (and msync, and mincore of file pages) are tested with the
  // issue 3 work that implements them; elfuse's mmap returns ENODEV for
  // them until then.
  int* sh = map_or_die(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS);
  sh[0] = 1234;
  CHECK(sh[0] == 1234);
  OK(munmap(sh, PAGE));
  int fd = open("mapped", O_CREAT | O_RDWR | O_TRUNC, 0644);
  OK(write(fd, "file contents", 13));
  char buf[16] = {0};
  char* priv = MMAP(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  if (priv != MAP_FAILED) {
    CHECK(memcmp(priv, "file contents", 13) == 0);
    CHECK(priv[13] == 0 && priv[PAGE - 1] == 0);
    priv[0] = 'p';
    SHOW(pread(fd, buf, 13, 0));
    printf("file after write to a private mapping: [%s]\n", buf);
    OK(munmap(priv, PAGE));
  }
  int ro = open("mapped", O_RDONLY);
  MMAP(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, ro, 0);
  close(ro);
  close(fd);

  // brk: grow, touch, shrink (raw syscalls: musl's sbrk only accepts 0).
  uintptr_t cur = syscall(SYS_brk, 0);
  CHECK(cur != 0);
  uintptr_t grown = syscall(SYS_brk, cur + 5 * PAGE);
  CHECK(grown == cur + 5 * PAGE);
  memset((void*)cur, 3, 5 * PAGE);
  CHECK(all_equal((void*)cur, 5 * PAGE, 3));
  uintptr_t shrunk = syscall(SYS_brk, cur);
  CHECK(shrunk == cur);
  uintptr_t low = syscall(SYS_brk, 4096);
  CHECK(low == cur);  // a failed brk returns the current break
  uintptr_t huge = syscall(SYS_brk, cur + (1UL << 46));
  CHECK(huge == cur);
  void* sb = sbrk(0);
  CHECK(sb != (void*)-1);
  return 0;
}
