// sched_getaffinity(0) in the middle of bursts of cheap syscalls, so that
// under elfuse the thread's exitless worker (another host thread, with an
// affinity of its own) is awake and serves it: the answer must be the
// calling thread's own mask, also after the thread narrowed it, and in a
// second thread. Prints what it observes.
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "exitless_burst.h"

static void burst(void) {
  exitless_burst(20);
}

static long getaff(pid_t pid, cpu_set_t* set) {
  memset(set, 0, sizeof *set);
  return syscall(SYS_sched_getaffinity, pid, sizeof *set, set);
}

static void check(const char* who) {
  cpu_set_t own, by_tid, by_pid, original;
  getaff(0, &original);
  for (int round = 0; round < 5; round++) {
    burst();
    long r0 = getaff(0, &own);
    long r1 = getaff((pid_t)syscall(SYS_gettid), &by_tid);
    printf("%s round %d: sizes equal %d, same as by tid %d, same as at start %d\n", who, round,
           r0 == r1 && r0 > 0, CPU_EQUAL(&own, &by_tid), CPU_EQUAL(&own, &original));
  }
  // Narrowed to the first CPU it may use: the worker's mask differs.
  int first = -1;
  for (int cpu = 0; cpu < CPU_SETSIZE; cpu++)
    if (CPU_ISSET(cpu, &original)) {
      first = cpu;
      break;
    }
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(first, &one);
  printf("%s narrow: %d\n", who, sched_setaffinity(0, sizeof one, &one));
  for (int round = 0; round < 5; round++) {
    burst();
    getaff(0, &own);
    printf("%s narrowed round %d: one CPU %d, the first %d\n", who, round, CPU_COUNT(&own) == 1,
           CPU_ISSET(first, &own) != 0);
  }
  printf("%s restore: %d\n", who, sched_setaffinity(0, sizeof original, &original));
  burst();
  getaff(0, &own);
  printf("%s restored: %d\n", who, CPU_EQUAL(&own, &original));
  // The whole process (the leader's mask) from a burst.
  burst();
  printf("%s by pid: %d\n", who, getaff(getpid(), &by_pid) > 0);
}

static void* thread_main(void* arg) {
  (void)arg;
  check("thread");
  return NULL;
}

int main(void) {
  check("main");
  pthread_t t;
  if (pthread_create(&t, NULL, thread_main, NULL) == 0) pthread_join(t, NULL);
  return 0;
}
