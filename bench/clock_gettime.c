/* Cost of clock_gettime(CLOCK_MONOTONIC) through the C library (the vDSO
 * when there is one): N calls per batch, the median of 5 batches, in
 * nanoseconds per call. Built static; bench/run.sh runs it natively, under
 * elfuse and under elfuse --no-vdso (every call a syscall). */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int cmp(const void* a, const void* b) {
  double x = *(const double*)a, y = *(const double*)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char** argv) {
  long n = argc > 1 ? atol(argv[1]) : 1000000;
  struct timespec ts;
  for (int i = 0; i < 1000; i++) clock_gettime(CLOCK_MONOTONIC, &ts);
  double per[5];
  for (int b = 0; b < 5; b++) {
    double t0 = now_ns();
    for (long i = 0; i < n; i++) clock_gettime(CLOCK_MONOTONIC, &ts);
    per[b] = (now_ns() - t0) / n;
  }
  qsort(per, 5, sizeof per[0], cmp);
  printf("%.1f\n", per[2]);
  return 0;
}
