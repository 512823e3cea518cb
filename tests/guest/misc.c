// Process identity, limits, the working directory, and small system calls.
#include <sched.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "common.h"
#include "own_dir.h"

int main(void) {
  own_dir_enter();
  struct utsname u;
  OK(uname(&u));
  printf("sysname = %s\nmachine = %s\nrelease = %s\n", u.sysname, u.machine, u.release);
  CHECK(u.nodename[0] != 0);
  SHOW(syscall(SYS_uname, (void*)1));

  pid_t pid = getpid();
  CHECK(pid > 0);
  CHECK(getppid() > 0);
  CHECK(getppid() != pid);
  CHECK(syscall(SYS_gettid) == pid);
  CHECK(getpgrp() > 0);
  CHECK(getsid(0) > 0);
  SHOW(getpgid(999999999));
  printf("uid = %d euid = %d gid = %d egid = %d\n", (int)getuid(), (int)geteuid(), (int)getgid(),
         (int)getegid());
  uid_t r, e, s;
  OK(getresuid(&r, &e, &s));
  printf("resuid = %d %d %d\n", (int)r, (int)e, (int)s);
  gid_t groups[256];
  int ng = getgroups(256, groups);
  printf("getgroups = %d\n", ng);
  char comm[32] = {0};
  OK(prctl(PR_GET_NAME, comm));
  printf("PR_GET_NAME = %s\n", comm);

  // The limit elfuse's guest starts with depends on the host (without
  // CAP_SYS_RESOURCE elfuse keeps its own descriptors inside the user's
  // limit and the guest reads a lower one): set a known one first.
  struct rlimit rl = {256, 1000};
  OK(setrlimit(RLIMIT_NOFILE, &rl));
  OK(getrlimit(RLIMIT_NOFILE, &rl));
  printf("RLIMIT_NOFILE = %llu %llu\n", (unsigned long long)rl.rlim_cur,
         (unsigned long long)rl.rlim_max);
  OK(getrlimit(RLIMIT_STACK, &rl));
  printf("RLIMIT_STACK = %llu %llu\n", (unsigned long long)rl.rlim_cur,
         (unsigned long long)rl.rlim_max);
  SHOW(getrlimit(12345, &rl));
  struct rlimit old, want = {100, 200};
  OK(syscall(SYS_prlimit64, 0, RLIMIT_NOFILE, NULL, &old));
  printf("prlimit64 NOFILE = %llu %llu\n", (unsigned long long)old.rlim_cur,
         (unsigned long long)old.rlim_max);
  OK(syscall(SYS_prlimit64, 0, RLIMIT_CORE, &want, &old));
  OK(getrlimit(RLIMIT_CORE, &rl));
  printf("RLIMIT_CORE after prlimit64 = %llu %llu\n", (unsigned long long)rl.rlim_cur,
         (unsigned long long)rl.rlim_max);
  struct rlimit inverted = {300, 200};
  SHOW(syscall(SYS_prlimit64, 0, RLIMIT_CORE, &inverted, NULL));
  SHOW(syscall(SYS_prlimit64, 999999999, RLIMIT_CORE, NULL, &old));

  mode_t m = umask(027);
  printf("umask was %03o\n", (unsigned)m);
  printf("umask now %03o\n", (unsigned)umask(022));

  char cwd[4096];
  CHECK(getcwd(cwd, sizeof cwd) != NULL);
  // The working directory is a fresh temporary directory with the same path in both
  // runs; do not print it, it is random.
  CHECK(cwd[0] == '/');
  SHOW(syscall(SYS_getcwd, cwd, 1));
  OK(mkdir("sub", 0755));
  OK(chdir("sub"));
  char cwd2[4096];
  CHECK(getcwd(cwd2, sizeof cwd2) != NULL && strncmp(cwd, cwd2, strlen(cwd)) == 0 &&
        strcmp(cwd2 + strlen(cwd), "/sub") == 0);
  OK(chdir(".."));
  OK(rmdir("sub"));
  OK(chdir("/"));
  printf("getcwd after chdir / = %s\n", getcwd(cwd2, sizeof cwd2));
  SHOW(chdir("/nonexistent-dir"));
  SHOW(chdir("/etc/passwd"));
  OK(chdir(cwd));

  struct sysinfo si;
  SHOW(sysinfo(&si));
  CHECK(si.mem_unit > 0 && si.totalram > 0 && si.uptime > 0 && si.procs > 0);

  unsigned char rnd[16];
  SHOW(getrandom(rnd, sizeof rnd, 0));
  SHOW(getrandom(rnd, sizeof rnd, GRND_NONBLOCK));
  SHOW(getrandom(rnd, sizeof rnd, 0x1000));
  SHOW(syscall(SYS_getrandom, (void*)1, 16, 0));

  SHOW(sched_yield());
  cpu_set_t set;
  CPU_ZERO(&set);
  OK(sched_getaffinity(0, sizeof set, &set));
  printf("sched_getaffinity: %d cpus\n", CPU_COUNT(&set));
  CHECK(CPU_COUNT(&set) > 0);
  SHOW(syscall(SYS_sched_getaffinity, 0, 8, &set));
  SHOW(syscall(SYS_sched_getaffinity, 0, 3, &set));
  printf("sysconf(_SC_NPROCESSORS_ONLN) = %ld\n", sysconf(_SC_NPROCESSORS_ONLN));
  printf("sysconf(_SC_PAGESIZE) = %ld\n", sysconf(_SC_PAGESIZE));
  printf("sysconf(_SC_CLK_TCK) = %ld\n", sysconf(_SC_CLK_TCK));
  printf("sched_getscheduler = %d\n", sched_getscheduler(0));
  errno = 0;
  printf("getpriority = %d %s\n", getpriority(PRIO_PROCESS, 0), errname(errno));

  SHOW(syscall(100000));  // unknown system call
  SHOW(syscall(-1));
  return 0;
}
