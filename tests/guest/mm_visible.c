// Memory changes take effect before the syscall returns. On PVM a host edit
// of a present guest PTE is not seen until the shadow entry is dropped
// (docs/internals.md), so each case first touches the page (making the
// translation live), changes it, then touches it again: the second touch
// must fault exactly as on Linux. Each case runs in a child so the fault's
// death by SIGSEGV is observed by the parent.
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define PAGE 4096
#define HUGE (2u << 20)

static volatile char sink;

static void report(const char* name, void (*fn)(void)) {
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    fn();
    _exit(0);
  }
  int status;
  waitpid(pid, &status, 0);
  if (WIFSIGNALED(status))
    printf("%s: killed by signal %d\n", name, WTERMSIG(status));
  else
    printf("%s: exit %d\n", name, WEXITSTATUS(status));
}

static char* map(size_t len) {
  char* p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) exit(90);
  return p;
}

// A 2 MiB-aligned region (a host could map it with one 2 MiB page; elfuse
// uses 4 KiB pages only, docs/internals.md).
static char* map_huge_aligned(void) {
  char* p = map(2 * HUGE);
  char* a = (char*)(((uintptr_t)p + HUGE - 1) & ~(uintptr_t)(HUGE - 1));
  return a;
}

static void unmap_then_read(void) {
  char* p = map(PAGE);
  p[0] = 1;
  munmap(p, PAGE);
  sink = p[0];
}

static void protect_then_write(void) {
  char* p = map(PAGE);
  p[0] = 1;
  mprotect(p, PAGE, PROT_READ);
  if (p[0] != 1) _exit(3);  // still readable
  p[0] = 2;
}

static void protect_none_then_read(void) {
  char* p = map(PAGE);
  p[0] = 1;
  mprotect(p, PAGE, PROT_NONE);
  sink = p[0];
}

static void huge_split_then_write(void) {
  char* a = map_huge_aligned();
  for (unsigned i = 0; i < HUGE; i += PAGE) a[i] = 1;
  mprotect(a + 5 * PAGE, PAGE, PROT_READ);
  a[4 * PAGE] = 2;  // neighbours keep their rights
  a[6 * PAGE] = 2;
  if (a[5 * PAGE] != 1) _exit(3);
  a[5 * PAGE] = 2;
}

static void huge_unmap_middle(void) {
  char* a = map_huge_aligned();
  for (unsigned i = 0; i < HUGE; i += PAGE) a[i] = 1;
  munmap(a + 7 * PAGE, PAGE);
  a[6 * PAGE] = 2;
  a[8 * PAGE] = 2;
  sink = a[7 * PAGE];
}

static void remap_then_read_old(void) {
  // The first half of a mapping grows: its own second half is in the way,
  // so it must move.
  char* p = map(8 * PAGE);
  p[0] = 42;
  char* q = mremap(p, 4 * PAGE, 8 * PAGE, MREMAP_MAYMOVE);
  if (q == MAP_FAILED) _exit(4);
  if (q == p) _exit(5);
  if (q[0] != 42) _exit(6);
  sink = p[0];
}

static void remap_fixed_then_read_old(void) {
  char* p = map(PAGE);
  char* target = map(PAGE);
  p[0] = 7;
  target[0] = 8;
  char* q = mremap(p, PAGE, PAGE, MREMAP_MAYMOVE | MREMAP_FIXED, target);
  if (q != target || q[0] != 7) _exit(6);
  sink = p[0];
}

static void shrink_then_read_tail(void) {
  char* p = map(4 * PAGE);
  p[3 * PAGE] = 1;
  if (mremap(p, 4 * PAGE, PAGE, 0) != p) _exit(6);
  sink = p[3 * PAGE];
}

static void brk_shrink_then_read(void) {
  char* top = sbrk(0);
  if (sbrk(4 * PAGE) == (void*)-1) _exit(7);
  char* page = (char*)(((uintptr_t)top + PAGE - 1) & ~(uintptr_t)(PAGE - 1));
  page[PAGE] = 1;
  sbrk(-4 * PAGE);
  sink = page[2 * PAGE];
}

static void dontneed_zeroes(void) {
  char* p = map(PAGE);
  p[0] = 9;
  madvise(p, PAGE, MADV_DONTNEED);
  _exit(p[0] == 0 ? 0 : 8);
}

int main(void) {
  report("munmap then read", unmap_then_read);
  report("mprotect(PROT_READ) then write", protect_then_write);
  report("mprotect(PROT_NONE) then read", protect_none_then_read);
  report("mprotect one page of a 2 MiB page then write", huge_split_then_write);
  report("munmap one page of a 2 MiB page then read", huge_unmap_middle);
  report("mremap move then read the old address", remap_then_read_old);
  report("mremap fixed then read the old address", remap_fixed_then_read_old);
  report("mremap shrink then read the tail", shrink_then_read_tail);
  report("brk shrink then read", brk_shrink_then_read);
  report("madvise(DONTNEED) zeroes", dontneed_zeroes);
  return 0;
}
