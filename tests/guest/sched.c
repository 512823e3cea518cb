// Scheduling and timers: nice values, policies and parameters, affinity,
// getcpu, times, alarm and interval timers (set, read back, cancelled before
// they fire; delivery is tested with signals). Values that depend on the
// machine or on time are printed as relations only.
#include <sched.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/times.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

int main(void) {
  // Nice values: the raw syscall returns 20 - nice; a child lowers its own.
  errno = 0;
  int nice0 = getpriority(PRIO_PROCESS, 0);
  printf("getpriority = %d %s\n", nice0, errname(errno));
  SHOW(syscall(SYS_getpriority, PRIO_PROCESS, 0) == 20 - nice0);
  SHOW(getpriority(99, 0));                      // EINVAL
  SHOW(getpriority(PRIO_PROCESS, 999999999));    // ESRCH
  SHOW(setpriority(99, 0, 1));                   // EINVAL
  fflush(stdout);
  pid_t c = fork();
  if (c == 0) {
    OK(setpriority(PRIO_PROCESS, 0, nice0 + 3));
    CHECK(getpriority(PRIO_PROCESS, 0) == nice0 + 3);
    fflush(stdout);
    _exit(0);
  }
  int st;
  OK(waitpid(c, &st, 0));
  CHECK(getpriority(PRIO_PROCESS, 0) == nice0);

  // Policies and parameters.
  SHOW(sched_getscheduler(0));
  SHOW(syscall(SYS_sched_getscheduler, -1));  // EINVAL
  struct sched_param sp = {42};
  OK(sched_getparam(0, &sp));
  printf("sched_priority = %d\n", sp.sched_priority);
  SHOW(syscall(SYS_sched_getparam, 0, NULL));         // EINVAL
  SHOW(syscall(SYS_sched_getparam, 0, (void*)8));     // EFAULT
  SHOW(syscall(SYS_sched_getparam, 999999999, &sp));  // ESRCH
  SHOW(sched_setparam(0, &sp));
  SHOW(syscall(SYS_sched_setparam, 0, (void*)8));     // EFAULT
  SHOW(syscall(SYS_sched_setparam, -1, &sp));         // EINVAL
  SHOW(syscall(SYS_sched_setscheduler, 0, SCHED_OTHER, &sp));
  SHOW(syscall(SYS_sched_setscheduler, 0, -1, &sp));       // EINVAL
  SHOW(syscall(SYS_sched_setscheduler, 0, SCHED_OTHER, (void*)8));  // EFAULT
  SHOW(syscall(SYS_sched_setscheduler, 0, 12345, &sp));    // EINVAL
  SHOW(sched_get_priority_max(SCHED_FIFO));
  SHOW(sched_get_priority_min(SCHED_FIFO));
  SHOW(sched_get_priority_max(SCHED_OTHER));
  SHOW(sched_get_priority_min(12345));  // EINVAL
  struct timespec rr;
  OK(sched_rr_get_interval(0, &rr));
  SHOW(syscall(SYS_sched_rr_get_interval, -1, &rr));        // EINVAL
  SHOW(syscall(SYS_sched_rr_get_interval, 0, (void*)8));    // EFAULT

  // Affinity: set the current mask back, then a mask of one CPU we have.
  cpu_set_t set, one;
  OK(sched_getaffinity(0, sizeof set, &set));
  OK(sched_setaffinity(0, sizeof set, &set));
  int first = -1;
  for (int i = 0; i < CPU_SETSIZE && first < 0; i++)
    if (CPU_ISSET(i, &set)) first = i;
  CPU_ZERO(&one);
  CPU_SET(first, &one);
  OK(sched_setaffinity(0, sizeof one, &one));
  unsigned cpu = 12345, node = 12345;
  OK(syscall(SYS_getcpu, &cpu, &node, NULL));
  CHECK(cpu == (unsigned)first);
  CHECK(node != 12345);
  OK(syscall(SYS_getcpu, NULL, NULL, NULL));
  SHOW(syscall(SYS_getcpu, (void*)8, &node, NULL));  // EFAULT
  OK(sched_setaffinity(0, sizeof set, &set));
  CPU_ZERO(&one);
  SHOW(sched_setaffinity(0, sizeof one, &one));       // EINVAL: no CPU
  SHOW(syscall(SYS_sched_setaffinity, 0, sizeof set, (void*)8));  // EFAULT
  SHOW(syscall(SYS_sched_setaffinity, 999999999, sizeof set, &set));  // ESRCH

  // times: clock ticks go forward; a NULL buffer is allowed.
  struct tms t;
  clock_t t1 = times(&t);
  clock_t t2 = times(NULL);
  CHECK(t1 != (clock_t)-1 && t2 >= t1);
  SHOW(syscall(SYS_times, (void*)8));  // EFAULT

  // alarm: the old alarm's seconds come back; 0 cancels.
  SHOW(alarm(100));
  SHOW(alarm(50) >= 99);
  SHOW(alarm(0) >= 49);
  SHOW(alarm(0));

  // Interval timers: set, read back, cancel.
  struct itimerval it = {{0, 0}, {100, 0}}, old, cur;
  OK(setitimer(ITIMER_REAL, &it, &old));
  CHECK(old.it_value.tv_sec == 0 && old.it_value.tv_usec == 0);
  OK(getitimer(ITIMER_REAL, &cur));
  CHECK(cur.it_value.tv_sec >= 99 && cur.it_value.tv_sec <= 100);
  it.it_value.tv_sec = 0;
  OK(setitimer(ITIMER_REAL, &it, &old));
  CHECK(old.it_value.tv_sec >= 99);
  OK(getitimer(ITIMER_REAL, &cur));
  CHECK(cur.it_value.tv_sec == 0 && cur.it_value.tv_usec == 0);
  it.it_value.tv_usec = 1000000;
  SHOW(setitimer(ITIMER_REAL, &it, NULL));                       // EINVAL
  SHOW(setitimer(99, &it, NULL));                                // EINVAL
  SHOW(getitimer(99, &cur));                                     // EINVAL
  SHOW(syscall(SYS_getitimer, ITIMER_VIRTUAL, (void*)8));        // EFAULT
  SHOW(syscall(SYS_setitimer, ITIMER_PROF, (void*)8, NULL));     // EFAULT
  SHOW(syscall(SYS_setitimer, ITIMER_PROF, NULL, &old));         // NULL: disarm
  CHECK(old.it_value.tv_sec == 0 && old.it_value.tv_usec == 0);
  return 0;
}
