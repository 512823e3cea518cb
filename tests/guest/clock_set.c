// Setting the clocks: clock_settime, settimeofday, adjtimex, clock_adjtime,
// and the order of their errors (a clock that cannot be set is EINVAL before
// a bad pointer is EFAULT). elfuse never sets the host's clock (EPERM even
// for root, docs/syscalls.md), so the calls that would set it run in a
// child that gave up CAP_SYS_TIME (it became nobody), where Linux refuses
// them too.
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/timex.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

#define BAD ((void*)8)

int main(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  fflush(stdout);
  pid_t child = fork();
  if (child == 0) {
    if (setresgid(65534, 65534, 65534) != 0 || setresuid(65534, 65534, 65534) != 0)
      printf("(could not become nobody)\n");
    OK(syscall(SYS_clock_settime, CLOCK_REALTIME, &ts));
    struct timeval now;
    gettimeofday(&now, NULL);
    OK(syscall(SYS_settimeofday, &now, NULL));
    OK(syscall(SYS_settimeofday, NULL, NULL));
    fflush(stdout);
    _exit(0);
  }
  waitpid(child, NULL, 0);
  OK(syscall(SYS_clock_settime, CLOCK_MONOTONIC, &ts));
  OK(syscall(SYS_clock_settime, CLOCK_MONOTONIC, BAD));
  OK(syscall(SYS_clock_settime, 1000, BAD));
  OK(syscall(SYS_clock_settime, CLOCK_REALTIME, BAD));
  OK(syscall(SYS_clock_settime, CLOCK_REALTIME, NULL));
  struct timespec bad_ns = {ts.tv_sec, 1000000000};
  OK(syscall(SYS_clock_settime, CLOCK_REALTIME, &bad_ns));

  OK(syscall(SYS_settimeofday, NULL, NULL));
  struct timeval tv = {0, 2000000};
  OK(syscall(SYS_settimeofday, &tv, NULL));
  OK(syscall(SYS_settimeofday, &tv, BAD));
  OK(syscall(SYS_settimeofday, BAD, NULL));
  OK(syscall(SYS_settimeofday, NULL, BAD));

  struct timex tx = {0};
  long state = syscall(SYS_adjtimex, &tx);
  printf("adjtimex query: %s, tick %ld\n", state >= 0 ? "ok" : errname(errno), tx.tick);
  OK(syscall(SYS_adjtimex, BAD));
  struct timex tx2 = {0};
  long state2 = syscall(SYS_clock_adjtime, CLOCK_REALTIME, &tx2);
  printf("clock_adjtime query: %s, same state %s, tick %ld\n",
         state2 >= 0 ? "ok" : errname(errno), state == state2 ? "yes" : "no", tx2.tick);
  OK(syscall(SYS_clock_adjtime, CLOCK_MONOTONIC, &tx2));
  OK(syscall(SYS_clock_adjtime, 1000, &tx2));
  OK(syscall(SYS_clock_adjtime, CLOCK_REALTIME, BAD));
  struct timex bad_mode = {.modes = 0x1234567};
  OK(syscall(SYS_adjtimex, &bad_mode));
  return 0;
}
