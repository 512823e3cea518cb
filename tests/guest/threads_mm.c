// Memory changes made by one thread reach every other thread before the
// syscall returns (on PVM: the shadow entries of every vCPU are dropped,
// docs/internals.md). A second thread keeps touching a page while the first
// unmaps, narrows or moves it; once the call has returned (the thread reads
// a flag the first thread sets after it), every touch must fault, exactly as
// natively. The faults go to the second thread's SIGSEGV handler, or, with
// no handler, kill the process (observed by a parent).
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096
#define HUGE (2u << 20)

enum Op { kRead, kWrite };

struct Case {
  volatile char* page;
  enum Op op;
  atomic_int started;  // the toucher touched the page at least once
  atomic_int changed;  // the change returned
  atomic_long after;   // touches that succeeded after `changed` was seen
  atomic_int faulted;
  void* fault_addr;
  int fault_code;
  pid_t fault_tid, toucher_tid;
};

static struct Case* cur;
static sigjmp_buf jmp;

static void on_segv(int sig, siginfo_t* si, void* uc) {
  cur->fault_addr = si->si_addr;
  cur->fault_code = si->si_code;
  cur->fault_tid = (pid_t)syscall(SYS_gettid);
  atomic_store(&cur->faulted, 1);
  siglongjmp(jmp, 1);
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void* toucher(void* p) {
  struct Case* c = p;
  c->toucher_tid = (pid_t)syscall(SYS_gettid);
  if (sigsetjmp(jmp, 1)) return NULL;
  double t0 = now();
  for (unsigned long i = 0;; i++) {
    int seen = atomic_load(&c->changed);
    if (c->op == kRead)
      (void)c->page[0];
    else
      c->page[0] = (char)i;
    if (seen) atomic_fetch_add(&c->after, 1);
    atomic_store(&c->started, 1);
    if ((i & 1023) == 0 && now() - t0 > 10) return NULL;  // never faulted
  }
}

static char* map(size_t len) {
  char* p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) exit(90);
  return p;
}

static const char* code_name(int code) {
  return code == SEGV_MAPERR ? "SEGV_MAPERR" : code == SEGV_ACCERR ? "SEGV_ACCERR" : "other";
}

// Runs one case: the toucher thread hammers c->page; `change` runs on this
// thread once the toucher is going.
static void run_case(const char* name, struct Case* c, void (*change)(struct Case*)) {
  cur = c;
  pthread_t th;
  pthread_create(&th, NULL, toucher, c);
  while (!atomic_load(&c->started)) sched_yield();
  change(c);
  atomic_store(&c->changed, 1);
  pthread_join(th, NULL);
  printf("%s: faulted %s, on the toucher %s, address %s, %s, touches after the change %ld\n", name,
         c->faulted ? "yes" : "no", c->fault_tid == c->toucher_tid ? "yes" : "no",
         c->fault_addr == (void*)c->page ? "exact" : "wrong", code_name(c->fault_code),
         atomic_load(&c->after));
}

static void do_munmap(struct Case* c) {
  munmap((void*)c->page, PAGE);
}
static void do_protect_read(struct Case* c) {
  mprotect((void*)c->page, PAGE, PROT_READ);
}
static void do_protect_none(struct Case* c) {
  mprotect((void*)c->page, PAGE, PROT_NONE);
}
static char* moved_to;
static void do_mremap(struct Case* c) {
  char* dst = map(2 * PAGE);
  munmap(dst, 2 * PAGE);
  moved_to = mremap((void*)c->page, PAGE, PAGE, MREMAP_MAYMOVE | MREMAP_FIXED, dst);
}

// Stores keep going on one thread while the other flips PROT_EXEC on the
// same page (a narrowing each time): the stores stay legal throughout.
static atomic_int flips_done;
static atomic_long stores;
static void* storer(void* p) {
  volatile char* page = p;
  while (!atomic_load(&flips_done)) {
    page[100] = (char)atomic_fetch_add(&stores, 1);
  }
  return NULL;
}

static void concurrent_narrowing(void) {
  char* p =
      mmap(NULL, PAGE, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  pthread_t th;
  pthread_create(&th, NULL, storer, p);
  while (atomic_load(&stores) == 0) sched_yield();
  int bad = 0;
  for (int i = 0; i < 2000; i++) {
    if (mprotect(p, PAGE, PROT_READ | PROT_WRITE) != 0) bad++;
    if (mprotect(p, PAGE, PROT_READ | PROT_WRITE | PROT_EXEC) != 0) bad++;
  }
  atomic_store(&flips_done, 1);
  pthread_join(th, NULL);
  printf("stores during 4000 narrowings and widenings: survived, errors %d, stores made: %s\n", bad,
         atomic_load(&stores) > 0 ? "yes" : "no");
}

// No handler: the fault of the second thread kills the whole process.
static void* unhandled_toucher(void* p) {
  volatile char* page = p;
  for (;;) (void)page[0];
  return NULL;
}

static void unhandled(void) {
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    signal(SIGSEGV, SIG_DFL);
    char* p = map(PAGE);
    p[0] = 1;
    pthread_t th;
    pthread_create(&th, NULL, unhandled_toucher, p);
    usleep(20000);
    munmap(p, PAGE);
    for (;;) pause();
  }
  int st;
  waitpid(pid, &st, 0);
  if (WIFSIGNALED(st))
    printf("no handler: the process was killed by signal %d\n", WTERMSIG(st));
  else
    printf("no handler: exit %d\n", WEXITSTATUS(st));
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_segv;
  sa.sa_flags = SA_SIGINFO;
  sigaction(SIGSEGV, &sa, NULL);

  static struct Case c1, c2, c3, c4, c5, c6;
  c1.page = map(PAGE);
  c1.op = kRead;
  run_case("munmap, read", &c1, do_munmap);

  c2.page = map(PAGE);
  c2.op = kWrite;
  run_case("mprotect PROT_READ, write", &c2, do_protect_read);

  c3.page = map(PAGE);
  c3.op = kRead;
  run_case("mprotect PROT_NONE, read", &c3, do_protect_none);

  c4.page = map(PAGE);
  c4.page[0] = 42;
  c4.op = kRead;
  run_case("mremap away, read the old address", &c4, do_mremap);
  printf("the data moved: %d\n", moved_to != MAP_FAILED ? moved_to[0] : -1);

  // A page inside a 2 MiB-aligned region (elfuse once used 2 MiB guest
  // pages there).
  char* big = map(2 * HUGE);
  char* aligned = (char*)(((uintptr_t)big + HUGE - 1) & ~(uintptr_t)(HUGE - 1));
  memset(aligned, 1, HUGE);
  c5.page = aligned + 17 * PAGE;
  c5.op = kWrite;
  run_case("munmap inside a 2 MiB page, write", &c5, do_munmap);
  printf("its neighbours still work: %d %d\n", aligned[16 * PAGE], aligned[18 * PAGE]);

  c6.page = aligned + 40 * PAGE;
  c6.op = kWrite;
  run_case("mprotect PROT_READ inside a 2 MiB page, write", &c6, do_protect_read);

  concurrent_narrowing();
  unhandled();
  return 0;
}
