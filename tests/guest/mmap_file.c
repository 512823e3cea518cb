// File-backed mmap with Linux's semantics: shared and private mappings of
// regular files, memfd_create files and /dev/zero, shared anonymous memory,
// max_prot (mprotect EACCES) across splits, mremap and fork, msync, SIGBUS
// past the end of a file, MADV_DONTNEED on a private file mapping, mincore.
// Every result is printed; compare.sh compares with the native run.
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"
#include "own_dir.h"

#define PAGE 4096
#define NPAGES 768  // 3 MiB: crosses 2 MiB boundaries

static volatile char sink;

// Runs fn in a child and prints how it ended.
static void in_child(const char* name, void (*fn)(void)) {
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    fn();
    fflush(stdout);
    _exit(0);
  }
  int status;
  waitpid(pid, &status, 0);
  if (WIFSIGNALED(status))
    printf("%s: killed by signal %d\n", name, WTERMSIG(status));
  else
    printf("%s: exit %d\n", name, WEXITSTATUS(status));
}

static void marker(char* buf, int page) {
  snprintf(buf, 32, "page-%05d-marker", page);
}

// Every page of p holds its own marker at its start and a second one at
// its end.
static int check_markers(const char* p, int first, int n) {
  char want[32];
  for (int i = 0; i < n; i++) {
    marker(want, first + i);
    if (memcmp(p + (size_t)i * PAGE, want, strlen(want)) != 0) return -1 - i;
    if (p[(size_t)i * PAGE + PAGE - 1] != (char)('A' + (first + i) % 26)) return -1000 - i;
  }
  return 0;
}

static void make_big(const char* path) {
  int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) exit(80);
  char* page = calloc(1, PAGE);
  for (int i = 0; i < NPAGES; i++) {
    memset(page, 0, PAGE);
    marker(page, i);
    page[PAGE - 1] = (char)('A' + i % 26);
    if (write(fd, page, PAGE) != PAGE) exit(81);
  }
  free(page);
  close(fd);
}

static int ro_fd;
static char* ro_map;

static void child_mprotect_ro(void) {
  SHOW(mprotect(ro_map, PAGE, PROT_READ | PROT_WRITE));
  printf("child markers: %d\n", check_markers(ro_map, 0, 4));
}

static char* eof_map;
static void touch_past_eof(void) {
  sink = eof_map[100];  // same page as EOF: zero
  printf("in last page: %d\n", eof_map[PAGE + 200]);
  fflush(stdout);
  sink = eof_map[2 * PAGE];  // wholly past EOF: SIGBUS
  printf("not reached\n");
}

static char* shared_anon;
static void child_writes_shared(void) {
  strcpy(shared_anon, "written by the child");
  strcpy(shared_anon + 5 * PAGE, "page five");
}

int main(void) {
  own_dir_enter();
  make_big("big.dat");

  // 1. A read-only MAP_SHARED mapping of an O_RDONLY file, every page checked.
  ro_fd = open("big.dat", O_RDONLY);
  ro_map = mmap(NULL, (size_t)NPAGES * PAGE, PROT_READ, MAP_SHARED, ro_fd, 0);
  CHECK(ro_map != MAP_FAILED);
  printf("markers: %d\n", check_markers(ro_map, 0, NPAGES));
  // 2. A second, concurrent mapping of the same fd (at an offset).
  char* ro2 = mmap(NULL, 100 * PAGE, PROT_READ, MAP_SHARED, ro_fd, 600 * PAGE);
  CHECK(ro2 != MAP_FAILED);
  printf("second markers: %d\n", check_markers(ro2, 600, 100));
  printf("first still: %d\n", check_markers(ro_map + 600 * PAGE, 600, 168));
  // 3. PROT_WRITE with MAP_SHARED needs an fd open for writing.
  errno = 0;
  void* bad = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, ro_fd, 0);
  printf("shared rw of O_RDONLY: %s %s\n", bad == MAP_FAILED ? "failed" : "mapped", errname(errno));
  // But MAP_PRIVATE PROT_WRITE is fine.
  char* priv = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, ro_fd, 0);
  CHECK(priv != MAP_FAILED);
  OK(munmap(priv, 2 * PAGE));

  // 4. Read-only shared mapping of an O_RDWR fd sees a later pwrite, and may
  // become writable.
  int rw_fd = open("big.dat", O_RDWR);
  char* rwm = mmap(NULL, 4 * PAGE, PROT_READ, MAP_SHARED, rw_fd, 0);
  CHECK(rwm != MAP_FAILED);
  SHOW(pwrite(rw_fd, "PWRITTEN", 8, PAGE + 32));
  printf("mapping sees pwrite: %.8s\n", rwm + PAGE + 32);
  printf("other mapping sees it: %.8s\n", ro_map + PAGE + 32);
  OK(mprotect(rwm, 4 * PAGE, PROT_READ | PROT_WRITE));
  memcpy(rwm + 2 * PAGE + 32, "STORED", 6);
  char buf[64] = {0};
  SHOW(pread(rw_fd, buf, 6, 2 * PAGE + 32));
  printf("pread sees store: %.6s\n", buf);
  OK(mprotect(rwm, 4 * PAGE, PROT_READ));
  OK(munmap(rwm, 4 * PAGE));

  // 5. A writable MAP_SHARED mapping: pread sees stores before and after msync.
  char* wm = mmap(NULL, 8 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, rw_fd, 8 * PAGE);
  CHECK(wm != MAP_FAILED);
  memcpy(wm + 3 * PAGE + 32, "before-msync", 12);
  memset(buf, 0, sizeof buf);
  SHOW(pread(rw_fd, buf, 12, 11 * PAGE + 32));
  printf("before msync: %.12s\n", buf);
  OK(msync(wm, 8 * PAGE, MS_SYNC));
  memcpy(wm + 3 * PAGE + 32, "after--msync", 12);
  OK(msync(wm + 3 * PAGE, PAGE, MS_ASYNC));
  OK(msync(wm, 8 * PAGE, MS_INVALIDATE));
  memset(buf, 0, sizeof buf);
  SHOW(pread(rw_fd, buf, 12, 11 * PAGE + 32));
  printf("after msync: %.12s\n", buf);
  printf("read-only mapping sees it: %.12s\n", ro_map + 11 * PAGE + 32);
  // write(2) is seen by the mapping at once.
  SHOW(pwrite(rw_fd, "via-pwrite", 10, 12 * PAGE + 32));
  printf("mapping sees write: %.10s\n", wm + 4 * PAGE + 32);

  // 8. msync errors.
  SHOW(msync(wm + 1, PAGE, MS_SYNC));
  SHOW(msync(wm, PAGE, 0x100));
  SHOW(msync(wm, PAGE, MS_SYNC | MS_ASYNC));
  SHOW(msync(wm, 0, MS_SYNC));
  OK(munmap(wm + 2 * PAGE, PAGE));  // a hole
  SHOW(msync(wm, 8 * PAGE, MS_SYNC));
  SHOW(msync(wm, 8 * PAGE, MS_ASYNC));
  SHOW(msync(wm, 8 * PAGE, MS_INVALIDATE));
  SHOW(msync(wm + 2 * PAGE, PAGE, MS_SYNC));
  SHOW(msync(wm, 2 * PAGE, MS_SYNC));
  char* anon = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  SHOW(msync(anon, PAGE, MS_SYNC));
  OK(munmap(anon, PAGE));
  OK(munmap(wm, 8 * PAGE));

  // 6. max_prot: mprotect(PROT_WRITE) of the O_RDONLY shared mapping is
  // EACCES, also after a split, after mremap moves it, and in a child.
  SHOW(mprotect(ro_map, (size_t)NPAGES * PAGE, PROT_READ | PROT_WRITE));
  SHOW(mprotect(ro_map, PAGE, PROT_WRITE));
  OK(munmap(ro_map + 10 * PAGE, PAGE));  // split by munmap of a middle page
  SHOW(mprotect(ro_map, PAGE, PROT_READ | PROT_WRITE));
  SHOW(mprotect(ro_map + 11 * PAGE, PAGE, PROT_READ | PROT_WRITE));
  OK(mprotect(ro_map + 20 * PAGE, 4 * PAGE, PROT_NONE));  // split by mprotect of part
  SHOW(mprotect(ro_map + 20 * PAGE, 4 * PAGE, PROT_READ | PROT_WRITE));
  OK(mprotect(ro_map + 20 * PAGE, 4 * PAGE, PROT_READ));
  SHOW(mprotect(ro_map + 19 * PAGE, 6 * PAGE, PROT_WRITE));
  printf("after split: %d %d\n", check_markers(ro_map, 0, 10),
         check_markers(ro_map + 11 * PAGE, 11, 100));
  // mremap: move the tail [400, 768) somewhere else.
  char* dest = mmap(NULL, 368 * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  char* moved =
      mremap(ro_map + 400 * PAGE, 368 * PAGE, 368 * PAGE, MREMAP_MAYMOVE | MREMAP_FIXED, dest);
  CHECK(moved != MAP_FAILED);
  printf("moved markers: %d\n", check_markers(moved, 400, 368));
  SHOW(mprotect(moved, 368 * PAGE, PROT_READ | PROT_WRITE));
  SHOW(mprotect(moved + 7 * PAGE, PAGE, PROT_WRITE | PROT_READ));
  // Growing a file mapping (moving it if needed) maps more of the file.
  char* orig = ro_map;
  char* grown = mremap(ro_map, 10 * PAGE, 50 * PAGE, MREMAP_MAYMOVE);
  CHECK(grown != MAP_FAILED);
  printf("grown markers: %d\n", check_markers(grown, 0, 50));
  SHOW(mprotect(grown, 50 * PAGE, PROT_READ | PROT_WRITE));
  ro_map = grown;
  in_child("child mprotect", child_mprotect_ro);
  OK(munmap(grown, 50 * PAGE));
  OK(munmap(orig + 11 * PAGE, 389 * PAGE));
  OK(munmap(moved, 368 * PAGE));
  OK(munmap(ro2, 100 * PAGE));

  // 7. MAP_PRIVATE of an O_RDONLY fd made writable: stores never reach the file.
  char* pm = mmap(NULL, 4 * PAGE, PROT_READ, MAP_PRIVATE, ro_fd, 40 * PAGE);
  CHECK(pm != MAP_FAILED);
  OK(mprotect(pm, 4 * PAGE, PROT_READ | PROT_WRITE));
  memcpy(pm + PAGE, "PRIVATE!", 8);
  memset(buf, 0, sizeof buf);
  SHOW(pread(ro_fd, buf, 17, 41 * PAGE));
  printf("file keeps: %.17s, mapping has: %.8s\n", buf, pm + PAGE);
  // Another private mapping of the same page does not see it.
  char* pm2 = mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE, ro_fd, 41 * PAGE);
  printf("other private mapping: %.17s\n", pm2);
  // MADV_DONTNEED on a private file mapping brings back the file's content.
  OK(madvise(pm, 4 * PAGE, MADV_DONTNEED));
  printf("after MADV_DONTNEED: %.17s\n", pm + PAGE);
  // mprotect back to read-only, then a store through another mapping of the
  // file is visible again (the page is the file's once more).
  OK(mprotect(pm, 4 * PAGE, PROT_READ));
  SHOW(pwrite(rw_fd, "NEWDATA", 7, 42 * PAGE + 32));
  printf("private sees unmodified page update: %.7s\n", pm + 2 * PAGE + 32);
  OK(munmap(pm, 4 * PAGE));
  OK(munmap(pm2, PAGE));

  // mincore on a file mapping: every page is in the page cache.
  char* mc = mmap(NULL, 64 * PAGE, PROT_READ, MAP_SHARED, ro_fd, 0);
  unsigned char vec[64];
  OK(mincore(mc, 64 * PAGE, vec));
  int resident = 0;
  for (int i = 0; i < 64; i++) resident += vec[i] & 1;
  printf("resident: %d of 64\n", resident);
  OK(munmap(mc, 64 * PAGE));

  // 9. SIGBUS on touching a page wholly past the end of the file.
  int small = open("small.dat", O_RDWR | O_CREAT | O_TRUNC, 0644);
  char page[PAGE];
  memset(page, 's', sizeof page);
  SHOW(write(small, page, PAGE));
  SHOW(write(small, page, 100));
  eof_map = mmap(NULL, 4 * PAGE, PROT_READ, MAP_SHARED, small, 0);
  CHECK(eof_map != MAP_FAILED);
  in_child("past EOF", touch_past_eof);
  // The kernel refuses to copy from there too.
  SHOW(write(1, eof_map + 2 * PAGE, 10));
  // Extending the file makes the page readable.
  SHOW(ftruncate(small, 3 * PAGE));
  printf("after ftruncate: %d\n", eof_map[2 * PAGE + 5]);
  OK(munmap(eof_map, 4 * PAGE));
  close(small);

  // 10. memfd_create + ftruncate + MAP_SHARED, visible through read(2).
  int mfd = memfd_create("elfuse-test", MFD_CLOEXEC);
  CHECK(mfd >= 0);
  OK(ftruncate(mfd, 16 * PAGE));
  char* mm = mmap(NULL, 16 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
  CHECK(mm != MAP_FAILED);
  strcpy(mm + 9 * PAGE, "hello through memfd");
  memset(buf, 0, sizeof buf);
  SHOW(lseek(mfd, 9 * PAGE, SEEK_SET));
  SHOW(read(mfd, buf, 19));
  printf("read: %s\n", buf);
  SHOW(pwrite(mfd, "back", 4, 0));
  printf("mapping: %.4s\n", mm);
  OK(munmap(mm, 16 * PAGE));
  close(mfd);
  SHOW(syscall(SYS_memfd_create, "x", 0x1000));
  SHOW(syscall(SYS_memfd_create, "x", 0x10 /* MFD_EXEC */ | 0x8 /* MFD_NOEXEC_SEAL */));
  char longname[300];
  memset(longname, 'n', sizeof longname);
  longname[299] = 0;
  SHOW(syscall(SYS_memfd_create, longname, 0));
  longname[249] = 0;
  int lfd = (int)syscall(SYS_memfd_create, longname, 0);
  CHECK(lfd >= 0);
  close(lfd);
  SHOW(syscall(SYS_memfd_create, (char*)8, 0));

  // 11. MAP_SHARED|MAP_ANONYMOUS is shared with a forked child.
  shared_anon = mmap(NULL, 8 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  CHECK(shared_anon != MAP_FAILED);
  in_child("shared anon child", child_writes_shared);
  printf("parent reads: %s / %s\n", shared_anon, shared_anon + 5 * PAGE);
  // Its pages survive MADV_DONTNEED (they live in shmem).
  OK(madvise(shared_anon, 8 * PAGE, MADV_DONTNEED));
  printf("after MADV_DONTNEED: %s\n", shared_anon);
  OK(munmap(shared_anon, 8 * PAGE));

  // 12. /dev/zero: private is anonymous (not shared), shared is shared.
  int zfd = open("/dev/zero", O_RDWR);
  char* zp = mmap(NULL, 8 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, zfd, 0);
  CHECK(zp != MAP_FAILED);
  printf("zero: %d %d\n", zp[0], zp[2 * PAGE - 1]);
  shared_anon = zp;
  in_child("private /dev/zero child", child_writes_shared);
  printf("parent reads: \"%s\"\n", zp);
  char* zs = mmap(NULL, 8 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, zfd, 0);
  CHECK(zs != MAP_FAILED);
  shared_anon = zs;
  in_child("shared /dev/zero child", child_writes_shared);
  printf("parent reads: %s / %s\n", zs, zs + 5 * PAGE);
  close(zfd);
  int zro = open("/dev/zero", O_RDONLY);
  errno = 0;
  void* z2 = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, zro, 0);
  printf("shared rw /dev/zero O_RDONLY: %s %s\n", z2 == MAP_FAILED ? "failed" : "mapped",
         errname(errno));
  char* z3 = mmap(NULL, PAGE, PROT_READ, MAP_SHARED, zro, 0);
  CHECK(z3 != MAP_FAILED);
  SHOW(mprotect(z3, PAGE, PROT_READ | PROT_WRITE));
  close(zro);

  // Odd arguments.
  errno = 0;
  void* r = mmap(NULL, PAGE, PROT_READ, MAP_SHARED, ro_fd, (off_t)0x7ffffffffffff000);
  printf("huge offset: %s %s\n", r == MAP_FAILED ? "failed" : "mapped", errname(errno));
  errno = 0;
  r = mmap(NULL, PAGE, PROT_READ, MAP_SHARED_VALIDATE | MAP_SYNC, ro_fd, 0);
  printf("MAP_SYNC: %s %s\n", r == MAP_FAILED ? "failed" : "mapped", errname(errno));
  errno = 0;
  r = mmap(NULL, PAGE, PROT_READ, MAP_SHARED, 1000, 0);
  printf("closed fd: %s %s\n", r == MAP_FAILED ? "failed" : "mapped", errname(errno));
  int dfd = open(".", O_RDONLY);
  errno = 0;
  r = mmap(NULL, PAGE, PROT_READ, MAP_SHARED, dfd, 0);
  printf("directory: %s %s\n", r == MAP_FAILED ? "failed" : "mapped", errname(errno));
  close(dfd);
  int wo = open("big.dat", O_WRONLY);
  errno = 0;
  r = mmap(NULL, PAGE, PROT_READ, MAP_SHARED, wo, 0);
  printf("O_WRONLY: %s %s\n", r == MAP_FAILED ? "failed" : "mapped", errname(errno));
  close(wo);
  close(rw_fd);
  close(ro_fd);
  return 0;
}
