// A SIGSEGV handler that repairs the faulting access with mprotect (or mmap)
// and returns, so that the instruction runs again and succeeds: a read and a
// write of a PROT_NONE page, a write to a read-only page, an unmapped page
// mapped by the handler, a page inside a large mapping, many pages in a row,
// and a guard page below a buffer in a second thread whose handler runs on
// that thread's alternate stack.
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common.h"

#define PAGE 4096L

static volatile int faults, last_code, last_tid, on_altstack;
static volatile uintptr_t last_addr;
static volatile int fix_by_mmap;

static void on_segv(int sig, siginfo_t* si, void* uc) {
  faults++;
  last_code = si->si_code;
  last_addr = (uintptr_t)si->si_addr;
  last_tid = syscall(SYS_gettid);
  stack_t ss;
  sigaltstack(NULL, &ss);
  on_altstack = (ss.ss_flags & SS_ONSTACK) != 0;
  void* page = (void*)(last_addr & ~(PAGE - 1));
  int r = fix_by_mmap ? (mmap(page, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS |
                                                                      MAP_FIXED, -1, 0) == page
                             ? 0
                             : -1)
                      : mprotect(page, PAGE, PROT_READ | PROT_WRITE);
  if (r != 0) _exit(70);  // never loop on a fault that cannot be fixed
}

static const char* code_name(int c) {
  return c == SEGV_MAPERR ? "SEGV_MAPERR" : c == SEGV_ACCERR ? "SEGV_ACCERR" : "other";
}

static void report(const char* what, void* expect_addr, int value_ok) {
  printf("%s: faults=%d code=%s addr_ok=%d value_ok=%d\n", what, faults, code_name(last_code),
         last_addr == (uintptr_t)expect_addr, value_ok);
  faults = 0;
}

static int thread_faults, thread_in_self, thread_altstack, thread_ok;
static void* guarded_thread(void* arg) {
  // An alternate stack for this thread; the handler runs there.
  stack_t ss = {.ss_sp = malloc(65536), .ss_size = 65536, .ss_flags = 0};
  sigaltstack(&ss, NULL);
  // A buffer with a guard page below it, filled from the top down, as a
  // downward-growing stack would be.
  char* base = mmap(NULL, 5 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  mprotect(base, PAGE, PROT_NONE);
  int self = syscall(SYS_gettid);
  faults = 0;
  for (long i = 5 * PAGE - 1; i >= 0; i -= 64) base[i] = (char)i;
  thread_faults = faults;
  thread_in_self = last_tid == self;
  thread_altstack = on_altstack;
  thread_ok = last_addr == (uintptr_t)(base + PAGE - 64 + 63) && last_code == SEGV_ACCERR;
  long sum = 0;
  for (long i = 5 * PAGE - 1; i >= 0; i -= 64) sum += base[i] == (char)i;
  thread_ok &= sum == 5 * PAGE / 64;
  munmap(base, 5 * PAGE);
  ss.ss_flags = SS_DISABLE;
  sigaltstack(&ss, NULL);
  return NULL;
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_segv;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
  OK(sigaction(SIGSEGV, &sa, NULL));

  // Read of a PROT_NONE page: the handler makes it readable, the load runs
  // again and sees what was written before the page was protected.
  char* p = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  p[100] = 17;
  OK(mprotect(p, PAGE, PROT_NONE));
  volatile char* vp = p;
  char c = vp[100];
  report("read PROT_NONE", p + 100, c == 17);

  // Write of a PROT_NONE page.
  OK(mprotect(p + PAGE, PAGE, PROT_NONE));
  vp[PAGE + 5] = 42;
  report("write PROT_NONE", p + PAGE + 5, vp[PAGE + 5] == 42);

  // Write of a read-only page; the read before it does not fault.
  p[2 * PAGE + 8] = 3;
  OK(mprotect(p + 2 * PAGE, PAGE, PROT_READ));
  c = vp[2 * PAGE + 8];
  vp[2 * PAGE + 8] = c + 1;
  report("write PROT_READ", p + 2 * PAGE + 8, vp[2 * PAGE + 8] == 4);

  // An unmapped page: SEGV_MAPERR, the handler maps it again (zero-filled).
  OK(munmap(p + 3 * PAGE, PAGE));
  fix_by_mmap = 1;
  vp[3 * PAGE + 1] = 9;
  fix_by_mmap = 0;
  report("write unmapped", p + 3 * PAGE + 1, vp[3 * PAGE + 1] == 9 && vp[3 * PAGE] == 0);
  munmap(p, 4 * PAGE);

  // A page in the middle of a large mapping (touched first, so it is backed,
  // possibly by a large page).
  long big = 8L << 20;
  char* q = mmap(NULL, big, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  for (long i = 0; i < big; i += PAGE) q[i] = 1;
  char* mid = q + (3L << 20) + 5 * PAGE;
  OK(mprotect(mid, PAGE, PROT_NONE));
  volatile char* vmid = mid;
  vmid[123] = 5;
  report("write inside large mapping", mid + 123, vmid[123] == 5 && vmid[0] == 1 && q[0] == 1);

  // 64 protected pages in a row, each fixed by its own fault.
  OK(mprotect(q, 64 * PAGE, PROT_NONE));
  long sum = 0;
  for (int i = 0; i < 64; i++) sum += ((volatile char*)q)[i * PAGE];
  printf("64 pages: faults=%d sum=%ld\n", faults, sum);
  faults = 0;
  munmap(q, big);

  // A guard page in a second thread; the fault goes to that thread.
  pthread_t th;
  pthread_create(&th, NULL, guarded_thread, NULL);
  pthread_join(th, NULL);
  printf("thread guard page: faults=%d in_faulting_thread=%d on_altstack=%d ok=%d\n",
         thread_faults, thread_in_self, thread_altstack, thread_ok);

  // The handler may not fix anything: with SA_RESETHAND the second fault is
  // the default action (checked by the exit status).
  sa.sa_flags = SA_SIGINFO | SA_RESETHAND;
  OK(sigaction(SIGSEGV, &sa, NULL));
  char* r = mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ((volatile char*)r)[0] = 1;
  report("fixed once with SA_RESETHAND", r, r[0] == 1);
  mprotect(r, PAGE, PROT_NONE);
  printf("now dying by SIGSEGV\n");
  ((volatile char*)r)[0] = 2;
  printf("not reached\n");
  return 0;
}
