// The vDSO with threads: every thread reads the clocks through it (each
// reading between two syscall readings, none going backwards), while
// another thread narrows, restores and moves the data pages under them.
// Only facts that hold on any run are printed.
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

enum { kThreads = 3, kCalls = 2000 };

static long long ns(const struct timespec* t) {
  return t->tv_sec * 1000000000LL + t->tv_nsec;
}

static void* clocks(void* arg) {
  long bad = 0;
  long long last = 0;
  for (int i = 0; i < kCalls; i++) {
    struct timespec a, b, c;
    if (i % 100 == 0) syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &a);
    clock_gettime(CLOCK_MONOTONIC, &b);
    if (ns(&b) < last) bad++;
    last = ns(&b);
    if (i % 100 == 0) {
      syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &c);
      if (ns(&a) > ns(&b) || ns(&b) > ns(&c)) bad++;
      last = ns(&c);
    }
  }
  return (void*)bad;
}

static char* data;  // [vvar]
static size_t data_len;
static volatile int stop;
static volatile long reads;
static __thread sigjmp_buf jump;

static void on_segv(int sig) {
  siglongjmp(jump, 1);
}

// Reads the first data page until told to stop; a read while the page is
// PROT_NONE or moved away faults, which is fine.
static void* reader(void* arg) {
  while (!stop) {
    if (sigsetjmp(jump, 1) == 0) {
      (void)*(volatile int*)data;
      reads++;
    }
  }
  return NULL;
}

int main(void) {
  pthread_t t[kThreads];
  for (int i = 0; i < kThreads; i++) pthread_create(&t[i], NULL, clocks, NULL);
  long bad = 0;
  for (int i = 0; i < kThreads; i++) {
    void* r;
    pthread_join(t[i], &r);
    bad += (long)r;
  }
  printf("%d threads x %d vDSO calls: out of order %ld\n", kThreads, kCalls, bad);

  // The [vvar] row.
  FILE* f = fopen("/proc/self/maps", "re");
  char line[512];
  while (f && fgets(line, sizeof line, f)) {
    unsigned long s, e;
    int at = 0;
    if (sscanf(line, "%lx-%lx %*s %*x %*x:%*x %*u %n", &s, &e, &at) == 2 && at &&
        !strncmp(line + at, "[vvar]\n", 7)) {
      data = (char*)s;
      data_len = e - s;
    }
  }
  if (f) fclose(f);
  if (!data) return 1;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_segv;
  sa.sa_flags = SA_NODEFER;
  sigaction(SIGSEGV, &sa, NULL);
  char* spare = mmap(NULL, data_len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  pthread_t r;
  pthread_create(&r, NULL, reader, NULL);
  while (reads == 0) sched_yield();
  int failures = 0;
  for (int i = 0; i < 100; i++) {
    failures += mprotect(data, data_len, PROT_NONE) != 0;
    failures += mprotect(data, data_len, PROT_READ) != 0;
    // Away and back (the way back replaces the spare's new placeholder).
    char* away = mremap(data, data_len, data_len, MREMAP_MAYMOVE | MREMAP_FIXED, spare);
    failures += away != spare;
    failures += mremap(away, data_len, data_len, MREMAP_MAYMOVE | MREMAP_FIXED, data) != data;
  }
  stop = 1;
  pthread_join(r, NULL);
  printf("narrow, restore and move [vvar] under a reading thread: failures %d\n", failures);
  struct timespec a, b, c;
  syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &a);
  clock_gettime(CLOCK_MONOTONIC, &b);
  syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &c);
  printf("vDSO afterwards between syscalls: %s\n",
         ns(&a) <= ns(&b) && ns(&b) <= ns(&c) ? "yes" : "NO");
  return 0;
}
