/* Signal delivery cost (issue 5): a load from address 0 faults, the SIGSEGV
 * handler moves RIP past the 2-byte load and returns through rt_sigreturn.
 * Prints microseconds per fault, the median of 5 batches of N faults:
 *   segv N
 * The path HotSpot's implicit null checks take for every NullPointerException
 * they catch. Built static; bench/run.sh runs it natively and under elfuse. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <ucontext.h>

static double now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static void skip_load(int sig, siginfo_t* info, void* ucv) {
  ucontext_t* uc = ucv;
  uc->uc_mcontext.gregs[REG_RIP] += 2; /* mov (%rax), %eax */
}

static int cmp(const void* a, const void* b) {
  double x = *(const double*)a, y = *(const double*)b;
  return (x > y) - (x < y);
}

int main(int argc, char** argv) {
  int n = argc > 1 ? atoi(argv[1]) : 2000;
  struct sigaction sa = {0};
  sa.sa_sigaction = skip_load;
  sa.sa_flags = SA_SIGINFO;
  sigaction(SIGSEGV, &sa, NULL);
  double batch[5];
  for (int b = 0; b < 5; b++) {
    double t0 = now_us();
    for (int i = 0; i < n; i++) {
      int v;
      __asm__ volatile("mov (%1), %0" : "=a"(v) : "a"(0L) : "memory");
    }
    batch[b] = (now_us() - t0) / n;
  }
  qsort(batch, 5, sizeof batch[0], cmp);
  printf("%.2f\n", batch[2]);
  return 0;
}
