// A guest that waits costs (almost) no CPU: a 1 s read on an empty pipe, a
// 1 s nanosleep, a 1 s futex wait and a 1 s wait on a FIFO open, each right
// after a burst of cheap syscalls (so elfuse's exitless worker is awake and
// spinning when the wait starts), cost under 5% of one CPU over the wait,
// counting every thread of the process: utime + stime from /proc/self/stat
// (clock ticks) and from getrusage(RUSAGE_SELF). Prints only "ok" lines,
// so the native run and the elfuse run agree when both stay under.
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "exitless_burst.h"
#include "own_dir.h"

#define FUTEX_WAIT_PRIVATE 128

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

// utime + stime of the whole process, seconds, from /proc/self/stat.
static double stat_cpu(void) {
  char buf[1024];
  int fd = open("/proc/self/stat", O_RDONLY);
  if (fd < 0) return -1;
  long n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return -1;
  buf[n] = 0;
  char* p = strrchr(buf, ')');
  if (!p) return -1;
  unsigned long utime = 0, stime = 0;
  // Fields after the command: state(3) ... utime(14) stime(15).
  if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime, &stime) != 2)
    return -1;
  return (double)(utime + stime) / sysconf(_SC_CLK_TCK);
}

static double rusage_cpu(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec +
         ru.ru_stime.tv_usec / 1e6;
}

static void burst(void) {
  exitless_burst(200);
}

struct sample {
  double wall, stat, rusage;
};

static struct sample begin(void) {
  burst();
  struct sample s = {now(), stat_cpu(), rusage_cpu()};
  return s;
}

static void end(const char* what, struct sample s) {
  double wall = now() - s.wall;
  double by_stat = stat_cpu() - s.stat, by_rusage = rusage_cpu() - s.rusage;
  // 5% of the wait; /proc/self/stat counts in ticks (10 ms): one tick of slack.
  int ok_stat = by_stat <= 0.05 * wall + 1.0 / sysconf(_SC_CLK_TCK);
  int ok_rusage = by_rusage <= 0.05 * wall;
  printf("%s: /proc/self/stat %s, getrusage %s\n", what, ok_stat ? "ok" : "TOO MUCH CPU",
         ok_rusage ? "ok" : "TOO MUCH CPU");
  if (!ok_stat || !ok_rusage)
    fprintf(stderr, "%s: wall %.3f s, cpu %.3f s (stat) %.3f s (rusage)\n", what, wall, by_stat,
            by_rusage);
}

static void on_alarm(int sig) {
  (void)sig;
}

int main(void) {
  own_dir_enter();
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_alarm;
  sigaction(SIGALRM, &sa, NULL);  // no SA_RESTART: the alarm ends the wait
  struct itimerval one_s = {{0, 0}, {1, 0}};

  int p[2];
  if (pipe(p) < 0) return 1;
  struct sample s = begin();
  setitimer(ITIMER_REAL, &one_s, NULL);
  char c;
  (void)!read(p[0], &c, 1);
  end("read on an empty pipe", s);

  s = begin();
  struct timespec ts = {1, 0};
  nanosleep(&ts, NULL);
  end("nanosleep", s);

  int word = 0;
  s = begin();
  syscall(SYS_futex, &word, FUTEX_WAIT_PRIVATE, 0, &ts, NULL, 0);
  end("futex wait", s);

  unlink("idle_fifo");
  if (mkfifo("idle_fifo", 0600) == 0) {
    s = begin();
    setitimer(ITIMER_REAL, &one_s, NULL);
    int fd = open("idle_fifo", O_RDONLY);
    if (fd >= 0) close(fd);
    end("open of a FIFO", s);
    unlink("idle_fifo");
  }
  return 0;
}
