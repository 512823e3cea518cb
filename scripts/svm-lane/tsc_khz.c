/* Prints this CPU's TSC rate in kHz: rdtsc against CLOCK_MONOTONIC_RAW over
 * 250 ms. scripts/svm-lane/lane.sh gives it to the lane's kernel as
 * tsc_early_khz= (TCG's guest TSC is the host's), so that kernel never
 * calibrates the TSC against the PIT, which fails now and then under TCG. */
#include <stdint.h>
#include <stdio.h>
#include <time.h>
#include <x86intrin.h>

static double seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC_RAW, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(void) {
  double t0 = seconds(), t1;
  uint64_t c0 = __rdtsc();
  do t1 = seconds();
  while (t1 - t0 < 0.25);
  uint64_t c1 = __rdtsc();
  printf("%.0f\n", (double)(c1 - c0) / (t1 - t0) / 1000.0);
  return 0;
}
