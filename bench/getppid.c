/* Cost of one forwarded syscall: N getppid calls, nanoseconds per call.
 * Built static; bench/run.sh runs it natively and under elfuse. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e9 + ts.tv_nsec;
}

int main(int argc, char** argv) {
  long n = argc > 1 ? atol(argv[1]) : 20000;
  for (int i = 0; i < 100; i++) syscall(SYS_getppid);
  double t0 = now_ns();
  for (long i = 0; i < n; i++) syscall(SYS_getppid);
  double t1 = now_ns();
  printf("%.1f\n", (t1 - t0) / n);
  return 0;
}
