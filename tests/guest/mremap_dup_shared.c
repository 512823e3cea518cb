// mremap with old_size 0 of a shared mapping and MREMAP_MAYMOVE (or
// MREMAP_FIXED) maps the same pages a second time, the original kept
// (mm/mremap.c: copy_vma at addr's file offset, nothing unmapped): shared
// anonymous memory and a shared file mapping, PROT_NONE too. gVisor's
// mremap.cc MremapTest.MayMove_Copy and MustMove_Copy.
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common.h"
#include "own_dir.h"

static int mapped(void* p) {
  unsigned char v;
  return mincore(p, 4096, &v) == 0;
}

int main(void) {
  own_dir_enter();
  char* a = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (a == MAP_FAILED) return 1;
  a[0] = 'a';
  a[4096] = 'A';
  char* b = mremap(a, 0, 4096, MREMAP_MAYMOVE);
  CHECK(b != MAP_FAILED);
  if (b == MAP_FAILED) return 0;
  CHECK(b != a);
  CHECK(mapped(a) && mapped(a + 4096) && mapped(b));
  printf("b[0] = %c\n", b[0]);
  b[0] = 'b';
  printf("a[0] = %c\n", a[0]);
  // From the second page: that page's contents.
  char* c = mremap(a + 4096, 0, 4096, MREMAP_MAYMOVE);
  CHECK(c != MAP_FAILED && c[0] == 'A');
  // Larger than what is there: the pages beyond are not touched.
  char* d = mremap(a + 4096, 0, 3 * 4096, MREMAP_MAYMOVE);
  CHECK(d != MAP_FAILED && d[0] == 'A');
  // MREMAP_FIXED over a private mapping.
  char* dst = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  char* e = mremap(a, 0, 4096, MREMAP_MAYMOVE | MREMAP_FIXED, dst);
  CHECK(e == dst);
  printf("dst[0] = %c\n", dst[0]);
  // The original goes, the copies stay.
  OK(munmap(a, 8192));
  dst[0] = 'e';
  printf("b[0] = %c, c[0] = %c\n", b[0], c[0]);
  // PROT_NONE shared memory (gVisor's case).
  char* n = mmap(NULL, 4096, PROT_NONE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  char* n2 = mremap(n, 0, 4096, MREMAP_MAYMOVE);
  CHECK(n2 != MAP_FAILED && n2 != n && mapped(n) && mapped(n2));
  OK(mprotect(n2, 4096, PROT_READ));
  printf("n2[0] = %d\n", n2[0]);
  // A shared file mapping, from its second page.
  int fd = open("file", O_RDWR | O_CREAT | O_TRUNC, 0600);
  char buf[8192];
  memset(buf, 'x', 4096);
  memset(buf + 4096, 'y', 4096);
  if (write(fd, buf, sizeof buf) != (ssize_t)sizeof buf) return 1;
  char* f = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  char* g = mremap(f + 4096, 0, 4096, MREMAP_MAYMOVE);
  CHECK(g != MAP_FAILED);
  if (g != MAP_FAILED) {
    printf("g[0] = %c\n", g[0]);
    g[1] = 'z';
    printf("f[4097] = %c\n", f[4097]);
    OK(msync(g, 4096, MS_SYNC));
    char r = 0;
    OK(pread(fd, &r, 1, 4097));
    printf("file[4097] = %c\n", r);
  }
  // A private file mapping cannot be duplicated.
  char* p = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 0);
  CHECK(mremap(p, 0, 4096, MREMAP_MAYMOVE) == MAP_FAILED && errno == EINVAL);
  return 0;
}
