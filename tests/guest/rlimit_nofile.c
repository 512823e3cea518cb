// RLIMIT_NOFILE: every descriptor below the hard limit the program reads is
// usable once the soft limit is raised to it (dup2 to hard-1, F_DUPFD at
// hard-1), the limit itself is not (EBADF, EINVAL), /proc/self/limits says
// the same as getrlimit, and the table shows the other limits the program
// set (fs/proc/base.c proc_pid_limits).
#include <fcntl.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

#include "common.h"

// The "Max open files" soft and hard limits of /proc/self/limits, printing
// the whole table when `print`.
static int limits_file(unsigned long long* soft, unsigned long long* hard, int print) {
  FILE* f = fopen("/proc/self/limits", "r");
  if (!f) {
    printf("open /proc/self/limits: %s\n", errname(errno));
    return -1;
  }
  char line[256];
  int found = 0;
  while (fgets(line, sizeof line, f)) {
    if (print) fputs(line, stdout);
    if (sscanf(line, "Max open files %llu %llu", soft, hard) == 2) found = 1;
  }
  fclose(f);
  return found ? 0 : -1;
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  struct rlimit l;
  getrlimit(RLIMIT_NOFILE, &l);
  unsigned long long fs = 0, fh = 0;
  CHECK(limits_file(&fs, &fh, 0) == 0 && fs == l.rlim_cur && fh == l.rlim_max);
  l.rlim_cur = l.rlim_max;
  OK(setrlimit(RLIMIT_NOFILE, &l));
  struct rlimit now;
  getrlimit(RLIMIT_NOFILE, &now);
  CHECK(now.rlim_cur == now.rlim_max && now.rlim_max == l.rlim_max);
  CHECK(limits_file(&fs, &fh, 0) == 0 && fs == now.rlim_cur && fh == now.rlim_max);
  int hard = (int)now.rlim_max;
  int r = dup2(0, hard - 1);
  printf("dup2(0, hard - 1): %s\n", r == hard - 1 ? "ok" : errname(errno));
  if (r >= 0) close(r);
  r = fcntl(0, F_DUPFD, hard - 1);
  printf("F_DUPFD hard - 1: %s\n", r == hard - 1 ? "ok" : errname(errno));
  if (r >= 0) close(r);
  r = fcntl(0, F_DUPFD_CLOEXEC, hard - 2);
  printf("F_DUPFD_CLOEXEC hard - 2: %s\n", r == hard - 2 ? "ok" : errname(errno));
  if (r >= 0) close(r);
  SHOW(dup2(0, hard));
  SHOW(fcntl(0, F_DUPFD, hard));
  // A lower soft limit bounds allocation; the hard limit stays.
  l.rlim_cur = 16;
  OK(setrlimit(RLIMIT_NOFILE, &l));
  SHOW(dup2(0, 16));
  SHOW(fcntl(0, F_DUPFD, 16));
  int n = 0;
  while (dup(0) >= 0) n++;
  printf("dup until %s\n", errname(errno));
  for (int fd = 3; fd < 16; fd++) close(fd);
  l.rlim_cur = l.rlim_max;
  OK(setrlimit(RLIMIT_NOFILE, &l));
  // The hard limit cannot be raised past itself without privilege... nor,
  // for root, past fs.nr_open; lowering it is always allowed.
  l.rlim_max = l.rlim_max - 1;
  l.rlim_cur = l.rlim_max;
  OK(setrlimit(RLIMIT_NOFILE, &l));
  r = dup2(0, (int)l.rlim_max - 1);
  printf("after lowering: dup2(0, hard - 1): %s\n", r >= 0 ? "ok" : errname(errno));
  SHOW(dup2(0, (int)l.rlim_max));
#ifndef NOFILE_ONLY
  // The table with limits the program set (RLIMIT_NOFILE too: the one the
  // guest starts with depends on whether elfuse may raise its own).
  l.rlim_cur = 512;
  l.rlim_max = 1000;
  setrlimit(RLIMIT_NOFILE, &l);
  struct rlimit d = {48ul << 20, RLIM_INFINITY};
  getrlimit(RLIMIT_DATA, &d);
  d.rlim_cur = 48ul << 20;
  setrlimit(RLIMIT_DATA, &d);
  struct rlimit s;
  getrlimit(RLIMIT_STACK, &s);
  s.rlim_cur = 4ul << 20;
  setrlimit(RLIMIT_STACK, &s);
  struct rlimit m;
  getrlimit(RLIMIT_MEMLOCK, &m);
  m.rlim_cur = m.rlim_max < (1ul << 20) ? m.rlim_max : (1ul << 20);
  setrlimit(RLIMIT_MEMLOCK, &m);
  limits_file(&fs, &fh, 1);
#endif
  return 0;
}
