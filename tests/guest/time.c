// Clocks and sleeping. Times vary from run to run, so only relations are printed.
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

static long long ns(const struct timespec* t) {
  return t->tv_sec * 1000000000LL + t->tv_nsec;
}

int main(void) {
  struct timespec t1, t2, res;
  OK(clock_gettime(CLOCK_MONOTONIC, &t1));
  OK(clock_gettime(CLOCK_MONOTONIC, &t2));
  CHECK(ns(&t2) >= ns(&t1));
  CHECK(t1.tv_nsec >= 0 && t1.tv_nsec < 1000000000);

  // Monotonic time keeps increasing over many reads.
  int backwards = 0;
  for (int i = 0; i < 10000; i++) {
    clock_gettime(CLOCK_MONOTONIC, &t2);
    if (ns(&t2) < ns(&t1)) backwards++;
    t1 = t2;
  }
  printf("monotonic went backwards %d times\n", backwards);

  // nanosleep 10 ms: at least 10 ms pass, and not absurdly more.
  clock_gettime(CLOCK_MONOTONIC, &t1);
  struct timespec req = {0, 10 * 1000 * 1000}, rem = {0, 0};
  OK(nanosleep(&req, &rem));
  clock_gettime(CLOCK_MONOTONIC, &t2);
  long long slept = ns(&t2) - ns(&t1);
  CHECK(slept >= 10 * 1000 * 1000);
  CHECK(slept < 5LL * 1000 * 1000 * 1000);
  struct timespec badreq = {0, 1000000000};
  SHOW(nanosleep(&badreq, NULL));
  struct timespec negreq = {-1, 0};
  SHOW(nanosleep(&negreq, NULL));
  SHOW(syscall(SYS_nanosleep, (void*)1, NULL));

  clock_gettime(CLOCK_MONOTONIC, &t1);
  req.tv_nsec = 5 * 1000 * 1000;
  OK(clock_nanosleep(CLOCK_MONOTONIC, 0, &req, NULL));
  struct timespec abs;
  clock_gettime(CLOCK_MONOTONIC, &abs);
  abs.tv_nsec += 5 * 1000 * 1000;
  if (abs.tv_nsec >= 1000000000) abs.tv_sec++, abs.tv_nsec -= 1000000000;
  printf("clock_nanosleep TIMER_ABSTIME = %d\n",
         clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &abs, NULL));
  clock_gettime(CLOCK_MONOTONIC, &t2);
  CHECK(ns(&t2) >= ns(&abs));
  CHECK(ns(&t2) - ns(&t1) >= 10 * 1000 * 1000);

  // Resolutions are properties of the host: print them.
  clockid_t ids[] = {CLOCK_REALTIME,          CLOCK_MONOTONIC,     CLOCK_PROCESS_CPUTIME_ID,
                     CLOCK_THREAD_CPUTIME_ID, CLOCK_MONOTONIC_RAW, CLOCK_REALTIME_COARSE,
                     CLOCK_MONOTONIC_COARSE,  CLOCK_BOOTTIME};
  const char* names[] = {"REALTIME",          "MONOTONIC",     "PROCESS_CPUTIME_ID",
                         "THREAD_CPUTIME_ID", "MONOTONIC_RAW", "REALTIME_COARSE",
                         "MONOTONIC_COARSE",  "BOOTTIME"};
  for (unsigned i = 0; i < sizeof ids / sizeof ids[0]; i++) {
    int r = clock_getres(ids[i], &res);
    printf("clock_getres(%s) = %d res = %lld ns\n", names[i], r, ns(&res));
    r = clock_gettime(ids[i], &t1);
    printf("clock_gettime(%s) = %d\n", names[i], r);
  }
  SHOW(syscall(SYS_clock_gettime, 12345, &t1));
  SHOW(syscall(SYS_clock_getres, 12345, &res));
  SHOW(syscall(SYS_clock_gettime, CLOCK_MONOTONIC, (void*)1));
  SHOW(syscall(SYS_clock_getres, CLOCK_MONOTONIC, NULL));

  // BOOTTIME >= MONOTONIC; CPU time is small but positive.
  clock_gettime(CLOCK_MONOTONIC, &t1);
  clock_gettime(CLOCK_BOOTTIME, &t2);
  CHECK(ns(&t2) >= ns(&t1));
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t1);
  CHECK(ns(&t1) > 0 && t1.tv_sec < 60);

  // Wall clock: gettimeofday, time and clock_gettime(REALTIME) agree.
  struct timeval tv;
  OK(gettimeofday(&tv, NULL));
  time_t now = time(NULL);
  clock_gettime(CLOCK_REALTIME, &t1);
  // time() reads the coarse clock (updated at the tick), so just after a
  // second begins it can still name the one before the gettimeofday.
  CHECK(now - tv.tv_sec >= -1 && now - tv.tv_sec <= 1);
  CHECK(t1.tv_sec - now >= 0 && t1.tv_sec - now <= 2);
  CHECK(tv.tv_usec >= 0 && tv.tv_usec < 1000000);
  CHECK(now > 1700000000);  // after November 2023
  time_t t;
  CHECK(time(&t) == t);
  return 0;
}
