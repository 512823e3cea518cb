// mseal(2) (mm/mseal.c): argument checks (flags, alignment, overflow,
// unmapped ranges), then a sealed VMA refuses munmap, mremap (shrink, move,
// expand, as the destination of MREMAP_FIXED), mmap(MAP_FIXED) over it,
// mprotect and pkey_mprotect (also to the same protection), and madvise's
// discarding advice on read-only private anonymous memory (mm/madvise.c
// can_madvise_modify), all with EPERM; a writable sealed VMA may be
// discarded, other advice is fine. Seals survive fork and are dropped by
// execve.
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

#define PG 4096L
#define NR_mseal 462
#define NR_pkey_mprotect 329
#ifndef MADV_DONTNEED_LOCKED
#define MADV_DONTNEED_LOCKED 24
#endif
#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP 4
#endif
#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif
#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif

static long mseal_(void* p, size_t len, unsigned long flags) {
  return syscall(NR_mseal, p, len, flags);
}

static char* map(size_t pages, int prot) {
  char* p = mmap(NULL, pages * PG, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    perror("mmap");
    exit(1);
  }
  return p;
}

// msync of an unmapped page is ENOMEM.
static int mapped(void* p) {
  return msync(p, PG, MS_ASYNC) == 0;
}

static void args(void) {
  printf("-- arguments\n");
  char* p = map(7, PROT_READ | PROT_WRITE);
  munmap(p + 6 * PG, PG);  // never next to what the kernel mapped above
  SHOW(mseal_(p, PG, 1));
  SHOW(mseal_(p, PG, 0x100));
  SHOW(mseal_(p + 1, PG, 0));
  SHOW(mseal_(p, 0, 0));
  SHOW(mseal_(p, (size_t)-1, 0));              // rounds up to 0
  SHOW(mseal_(p, (size_t)-PG, 0));             // start + len wraps
  SHOW(mseal_((void*)PG, PG, 0));              // nothing mapped there
  SHOW(mseal_((void*)0x7ffffffff000, PG, 0));  // top of the user range
  munmap(p + PG, PG);                          // a hole
  munmap(p + 4 * PG, PG);                      // another
  SHOW(mseal_(p, 4 * PG, 0));
  // mremap finds no VMA in the hole, even to shrink (do_mremap: EFAULT).
  SHOW((long)mremap(p + PG, PG, PG / 2, 0));
  // The hole made nothing sealed: the first page still goes away.
  OK(munmap(p, PG));
  SHOW(mseal_(p + 2 * PG, 3 * PG, 0));  // runs into the second hole
  OK(munmap(p + 2 * PG, 2 * PG));
  SHOW(mseal_(p + 5 * PG, PG + 1, 0));  // rounds up into the hole
  OK(munmap(p + 5 * PG, PG));
  p = map(1, PROT_READ);
  OK(mseal_(p, PG - 1, 0));  // rounds up to the page
  SHOW(munmap(p, PG));
}

static void refused(void) {
  printf("-- a sealed read-only mapping\n");
  char* p = map(3, PROT_READ | PROT_WRITE);
  memset(p, 'a', 3 * PG);
  OK(mprotect(p, 3 * PG, PROT_READ));
  OK(mseal_(p + PG, PG, 0));  // the middle page: splits the VMA
  OK(mseal_(p + PG, PG, 0));  // again: no change, no error
  SHOW(munmap(p + PG, PG));
  SHOW(munmap(p, 3 * PG));
  SHOW(munmap(p + PG, 1));
  CHECK(mapped(p) && mapped(p + PG) && mapped(p + 2 * PG));
  SHOW(mprotect(p + PG, PG, PROT_READ | PROT_WRITE));
  SHOW(mprotect(p + PG, PG, PROT_READ));  // the same protection
  SHOW(mprotect(p, 3 * PG, PROT_READ));
  SHOW(syscall(NR_pkey_mprotect, p + PG, PG, PROT_READ, -1));
  SHOW(syscall(NR_pkey_mprotect, p + PG, PG, PROT_NONE, -1));
  // The unsealed neighbours still change.
  OK(mprotect(p, PG, PROT_READ | PROT_WRITE));
  OK(mprotect(p + 2 * PG, PG, PROT_READ | PROT_WRITE));
  OK(mprotect(p + 2 * PG, PG, PROT_READ));
  // mremap: shrink, move, expand, and as a destination.
  char* q = map(2, PROT_READ | PROT_WRITE);
  munmap(q, 2 * PG);
  SHOW((long)mremap(p + PG, PG, PG / 2, 0));
  SHOW((long)mremap(p + PG, PG, 2 * PG, 0));
  SHOW((long)mremap(p + PG, PG, 2 * PG, MREMAP_MAYMOVE));
  SHOW((long)mremap(p + PG, PG, PG, MREMAP_MAYMOVE | MREMAP_FIXED, q));
  SHOW((long)mremap(p + PG, PG, PG, MREMAP_MAYMOVE | MREMAP_DONTUNMAP, q));
  char* r = map(1, PROT_READ | PROT_WRITE);
  SHOW((long)mremap(r, PG, PG, MREMAP_MAYMOVE | MREMAP_FIXED, p + PG));
  CHECK(mapped(r));
  // mmap over it.
  SHOW(mmap(p + PG, PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == MAP_FAILED);
  printf("errno %s\n", errname(errno));
  SHOW(mmap(p, 3 * PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == MAP_FAILED);
  printf("errno %s\n", errname(errno));
  SHOW(mmap(p + PG, PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0) ==
       MAP_FAILED);
  printf("errno %s\n", errname(errno));
  // A hint is only a hint: the new mapping goes elsewhere.
  char* h = mmap(p + PG, PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK(h != MAP_FAILED && h != p + PG);
  // madvise: discarding read-only anonymous memory is refused.
  SHOW(madvise(p + PG, PG, MADV_DONTNEED));
  SHOW(madvise(p + PG, PG, MADV_FREE));
  SHOW(madvise(p + PG, PG, MADV_DONTNEED_LOCKED));
  SHOW(madvise(p + PG, PG, MADV_REMOVE));
  SHOW(madvise(p + PG, PG, MADV_DONTFORK));
  SHOW(madvise(p + PG, PG, MADV_WIPEONFORK));
  SHOW(madvise(p, 3 * PG, MADV_DONTNEED));
  SHOW(madvise(p + PG, PG, MADV_WILLNEED));
  SHOW(madvise(p + PG, PG, MADV_DOFORK));
  SHOW(madvise(p + PG, PG, MADV_KEEPONFORK));
  SHOW(madvise(p + PG, PG, MADV_NORMAL));
  SHOW(madvise(p + PG, PG, MADV_DONTDUMP));
  SHOW(madvise(p + PG, PG, MADV_POPULATE_READ));
  printf("content %c\n", p[PG]);
  // mlock is allowed.
  OK(mlock(p + PG, PG));
  OK(munlock(p + PG, PG));
}

static void writable(void) {
  printf("-- a sealed writable mapping\n");
  char* p = map(2, PROT_READ | PROT_WRITE);
  memset(p, 'b', 2 * PG);
  OK(mseal_(p, 2 * PG, 0));
  OK(madvise(p, PG, MADV_DONTNEED));
  printf("after DONTNEED %d\n", p[0]);
  OK(madvise(p + PG, PG, MADV_FREE));
  OK(madvise(p, 2 * PG, MADV_WIPEONFORK));
  OK(madvise(p, 2 * PG, MADV_KEEPONFORK));
  SHOW(munmap(p, 2 * PG));
  SHOW(mprotect(p, 2 * PG, PROT_READ));
  p[0] = 'c';
  printf("write ok %c\n", p[0]);
}

static void shared_and_file(void) {
  printf("-- sealed shared and file mappings\n");
  char* s = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  strcpy(s, "shared");
  OK(mprotect(s, PG, PROT_READ));
  OK(mseal_(s, PG, 0));
  OK(madvise(s, PG, MADV_DONTNEED));  // shmem: allowed, the data stays
  printf("shared %s\n", s);
  SHOW(munmap(s, PG));
  FILE* f = fopen("file", "w+");
  fputs("file contents", f);
  fflush(f);
  char* m = mmap(NULL, PG, PROT_READ, MAP_PRIVATE, fileno(f), 0);
  OK(mseal_(m, PG, 0));
  OK(madvise(m, PG, MADV_DONTNEED));  // file-backed: allowed
  printf("file %s\n", m);
  SHOW(munmap(m, PG));
  fclose(f);
}

static void forked(void) {
  printf("-- fork keeps seals\n");
  char* p = map(1, PROT_READ);
  OK(mseal_(p, PG, 0));
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    SHOW(munmap(p, PG));
    SHOW(mprotect(p, PG, PROT_NONE));
    SHOW(madvise(p, PG, MADV_DONTNEED));
    fflush(stdout);
    _exit(0);
  }
  int st;
  waitpid(pid, &st, 0);
  printf("child exit %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st));
}

static void after_exec(void) {
  // execve drops every seal: the new image can unmap what the old sealed.
  printf("-- exec\n");
  char* p = map(1, PROT_READ);
  OK(mseal_(p, PG, 0));
  char buf[32];
  snprintf(buf, sizeof buf, "%lx", (unsigned long)p);
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    execl("/proc/self/exe", "mseal", "exec", buf, (char*)NULL);
    _exit(127);
  }
  int st;
  waitpid(pid, &st, 0);
  printf("exec child exit %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st));
}

// /proc/self/smaps shows a sealed VMA with "sl" in VmFlags (and only it:
// the unsealed neighbour mapped with it has none).
static void smaps_flag(void) {
  printf("-- smaps\n");
  char* p = map(2, PROT_READ);
  OK(mseal_(p, PG, 0));
  FILE* f = fopen("/proc/self/smaps", "r");
  char line[512];
  unsigned long cur = 0, s, e;
  while (fgets(line, sizeof line, f)) {
    if (sscanf(line, "%lx-%lx ", &s, &e) == 2 && strchr(line, '-') < strchr(line, ' '))
      cur = s;
    else if (!strncmp(line, "VmFlags:", 8) &&
             (cur == (unsigned long)p || cur == (unsigned long)p + PG))
      printf("%s page: %s\n", cur == (unsigned long)p ? "sealed" : "unsealed",
             strstr(line, " sl") ? "sl" : "no sl");
  }
  fclose(f);
}

int main(int argc, char** argv) {
  if (argc == 3 && !strcmp(argv[1], "exec")) {
    // The page the parent sealed is not mapped here: mapping it fresh and
    // unmapping it works.
    char* p = (char*)strtoul(argv[2], NULL, 16);
    char* q = mmap(p, PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    CHECK(q == p);
    SHOW(munmap(p, PG));
    return 0;
  }
  own_dir_enter();
  args();
  refused();
  writable();
  shared_and_file();
  forked();
  smaps_flag();
  after_exec();
  return 0;
}
