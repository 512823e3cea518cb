// The calls elfuse refuses (mounts, clock, host name, reboot, swap,
// accounting, namespaces, ptrace) give the errno Linux gives. Two parts:
//   - as the user the test runs as (root in CI): only argument and lookup
//     errors that Linux reports before it would act, so the native run never
//     changes the machine;
//   - in a child that became nobody (setresuid; if that fails, the same
//     user): calls that Linux refuses for lack of a capability, with
//     arguments that would act if it did not.
// Also silent ENOSYS for the numbers x86_64 Linux never implemented, and
// seccomp's strict mode.
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/timex.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common.h"
#include "own_dir.h"

#ifndef SYS_open_tree
#define SYS_open_tree 428
#define SYS_move_mount 429
#define SYS_fsopen 430
#define SYS_fsconfig 431
#define SYS_fsmount 432
#define SYS_fspick 433
#endif
#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442
#endif
// linux/reboot.h and linux/seccomp.h (musl-gcc has no kernel headers).
#define LINUX_REBOOT_MAGIC1 0xfee1dead
#define LINUX_REBOOT_MAGIC2 672274793
#define LINUX_REBOOT_CMD_RESTART 0x01234567
#define LINUX_REBOOT_CMD_CAD_OFF 0
#define SECCOMP_SET_MODE_STRICT 0
#define SECCOMP_GET_ACTION_AVAIL 2
#define SECCOMP_GET_NOTIF_SIZES 3
#define SECCOMP_MODE_STRICT 1
#define OPEN_TREE_CLONE 1
#define PTRACE_PEEKDATA_ 2
#define PTRACE_ATTACH_ 16
#define PTRACE_SEIZE_ 0x4206

struct mount_attr_ {
  uint64_t attr_set, attr_clr, propagation, userns_fd;
};

static void before_acting(void) {
  printf("-- as the test's user: errors before any action\n");
  // mount: the strings, then the target, then MS_NOUSER.
  SHOW(syscall(SYS_mount, NULL, "/nonexistent-elfuse", NULL, 0, NULL));
  SHOW(syscall(SYS_mount, (char*)8, "d", NULL, 0, NULL));
  SHOW(syscall(SYS_mount, NULL, (char*)8, NULL, 0, NULL));
  SHOW(syscall(SYS_mount, NULL, "d", (char*)8, 0, NULL));
  SHOW(syscall(SYS_mount, NULL, "d", NULL, 0, (char*)8));
  SHOW(syscall(SYS_mount, "none", "d", "tmpfs", MS_NOUSER, NULL));
  SHOW(syscall(SYS_mount, "none", "d/missing", "tmpfs", 0, NULL));
  // umount2: flags, lookup; a directory that is no mount point.
  SHOW(syscall(SYS_umount2, "d", 0x100));
  SHOW(syscall(SYS_umount2, "/nonexistent-elfuse", 0));
  SHOW(syscall(SYS_umount2, (char*)8, 0));
  SHOW(syscall(SYS_umount2, "d", 0));
  SHOW(syscall(SYS_umount2, "d", MNT_DETACH));
  SHOW(syscall(SYS_pivot_root, "/nonexistent-elfuse", "d"));
  SHOW(syscall(SYS_pivot_root, "d", (char*)8));
  // sethostname/setdomainname: length, then the name.
  SHOW(syscall(SYS_sethostname, "x", 65));
  SHOW(syscall(SYS_sethostname, "x", -1));
  SHOW(syscall(SYS_sethostname, (char*)8, 10));
  SHOW(syscall(SYS_setdomainname, "x", 100));
  SHOW(syscall(SYS_setdomainname, (char*)8, 3));
  // reboot: the magic numbers, an unknown command.
  SHOW(syscall(SYS_reboot, 0, 0, LINUX_REBOOT_CMD_RESTART, NULL));
  SHOW(syscall(SYS_reboot, LINUX_REBOOT_MAGIC1, 0, LINUX_REBOOT_CMD_RESTART, NULL));
  SHOW(syscall(SYS_reboot, LINUX_REBOOT_MAGIC1, LINUX_REBOOT_MAGIC2, 0x12345678, NULL));
  // acct: the file's open errors.
  SHOW(syscall(SYS_acct, "/nonexistent-elfuse/x"));
  SHOW(syscall(SYS_acct, (char*)8));
  SHOW(syscall(SYS_acct, "d"));
  // swapon/swapoff: flags, lookups, a file that is no swap area.
  SHOW(syscall(SYS_swapon, "f", 0x80000));
  SHOW(syscall(SYS_swapon, "/nonexistent-elfuse", 0));
  SHOW(syscall(SYS_swapoff, "/nonexistent-elfuse"));
  SHOW(syscall(SYS_swapoff, (char*)8));
  SHOW(syscall(SYS_swapoff, "f"));
  SHOW(syscall(SYS_swapoff, "d"));
  // The mount API.
  SHOW(syscall(SYS_fsopen, "tmpfs", 0x10));
  SHOW(syscall(SYS_fsopen, (char*)8, 0));
  SHOW(syscall(SYS_fsopen, "no-such-fs-elfuse", 0));
  SHOW(syscall(SYS_fsconfig, -1, 0, "k", NULL, 0));
  SHOW(syscall(SYS_fsconfig, 0, 0, NULL, NULL, 0));
  SHOW(syscall(SYS_fsconfig, 0, 1, "k", "v", 0));
  SHOW(syscall(SYS_fsconfig, 0, 2, "k", "v", 0));
  SHOW(syscall(SYS_fsconfig, 0, 6, NULL, NULL, 0));
  SHOW(syscall(SYS_fsconfig, 999, 6, NULL, NULL, 0));
  SHOW(syscall(SYS_fsconfig, 0, 99, NULL, NULL, 0));
  SHOW(syscall(SYS_fsmount, 0, 0x10, 0));
  SHOW(syscall(SYS_fsmount, 0, 0, 0x40));
  SHOW(syscall(SYS_fsmount, -1, 0, 0));
  SHOW(syscall(SYS_fsmount, 0, 0, 0));
  SHOW(syscall(SYS_fspick, AT_FDCWD, "d", 0x100));
  SHOW(syscall(SYS_fspick, AT_FDCWD, "/nonexistent-elfuse", 0));
  SHOW(syscall(SYS_fspick, AT_FDCWD, "d", 0));
  SHOW(syscall(SYS_move_mount, AT_FDCWD, "d", AT_FDCWD, "d", 0x80000));
  SHOW(syscall(SYS_move_mount, AT_FDCWD, "", AT_FDCWD, "d", 0));
  SHOW(syscall(SYS_move_mount, AT_FDCWD, "d", AT_FDCWD, "/nonexistent-elfuse", 0));
  SHOW(syscall(SYS_open_tree, AT_FDCWD, "d", 0x40000000));
  SHOW(syscall(SYS_open_tree, AT_FDCWD, "/nonexistent-elfuse", OPEN_TREE_CLONE));
  struct mount_attr_ attr;
  memset(&attr, 0, sizeof attr);
  SHOW(syscall(SYS_mount_setattr, AT_FDCWD, "d", 0x2, &attr, sizeof attr));
  SHOW(syscall(SYS_mount_setattr, AT_FDCWD, "d", 0, &attr, 0));
  SHOW(syscall(SYS_mount_setattr, AT_FDCWD, "d", 0, &attr, 8192));
  SHOW(syscall(SYS_mount_setattr, AT_FDCWD, "d", 0, NULL, sizeof attr));
  SHOW(syscall(SYS_mount_setattr, AT_FDCWD, "d", 0, &attr, sizeof attr));  // nothing to do
  attr.propagation = 3;
  SHOW(syscall(SYS_mount_setattr, AT_FDCWD, "d", 0, &attr, sizeof attr));
  attr.propagation = 0;
  attr.attr_set = 0x80000000;
  SHOW(syscall(SYS_mount_setattr, AT_FDCWD, "d", 0, &attr, sizeof attr));
  attr.attr_set = 1;
  SHOW(syscall(SYS_mount_setattr, AT_FDCWD, "/nonexistent-elfuse", 0, &attr, sizeof attr));
  // The clock: settable clocks, ranges, pointers; reading the state.
  struct timespec ts = {0, 0};
  SHOW(syscall(SYS_clock_settime, CLOCK_MONOTONIC, &ts));
  SHOW(syscall(SYS_clock_settime, 99, &ts));
  SHOW(syscall(SYS_clock_settime, CLOCK_REALTIME, (void*)8));
  SHOW(syscall(SYS_clock_settime, CLOCK_MONOTONIC, (void*)8));
  struct timespec bad = {-1, 0};
  SHOW(syscall(SYS_clock_settime, CLOCK_REALTIME, &bad));
  bad.tv_sec = 0;
  bad.tv_nsec = 1000000000;
  SHOW(syscall(SYS_clock_settime, CLOCK_REALTIME, &bad));
  SHOW(syscall(SYS_settimeofday, (void*)8, NULL));
  SHOW(syscall(SYS_settimeofday, NULL, (void*)8));
  struct timeval tv = {0, 2000000};
  SHOW(syscall(SYS_settimeofday, &tv, NULL));
  struct timezone tz = {10000, 0};
  SHOW(syscall(SYS_settimeofday, NULL, &tz));
  SHOW(syscall(SYS_settimeofday, NULL, NULL));
  struct timex tx;
  memset(&tx, 0, sizeof tx);
  long state = syscall(SYS_adjtimex, &tx);
  printf("adjtimex read: %s, tick %ld\n", state >= 0 ? "ok" : errname(errno), tx.tick);
  SHOW(syscall(SYS_adjtimex, (void*)8));
  memset(&tx, 0, sizeof tx);
  tx.modes = ADJ_TICK;
  tx.tick = 1;
  SHOW(syscall(SYS_adjtimex, &tx));
  tx.modes = 0x8000 | 0x2000;  // ADJ_ADJTIME | ADJ_OFFSET_READONLY without SINGLESHOT
  SHOW(syscall(SYS_adjtimex, &tx));
  tx.modes = ADJ_OFFSET_SS_READ;
  SHOW(syscall(SYS_adjtimex, &tx) >= 0);
  tx.modes = ADJ_SETOFFSET;
  tx.time.tv_usec = -1;
  SHOW(syscall(SYS_adjtimex, &tx));
  memset(&tx, 0, sizeof tx);
  SHOW(syscall(SYS_clock_adjtime, CLOCK_REALTIME, &tx) >= 0);
  SHOW(syscall(SYS_clock_adjtime, CLOCK_MONOTONIC, &tx));
  SHOW(syscall(SYS_clock_adjtime, 99, &tx));
  SHOW(syscall(SYS_clock_adjtime, CLOCK_REALTIME, (void*)8));
  tx.modes = ADJ_TICK;
  tx.tick = 1;
  SHOW(syscall(SYS_clock_adjtime, CLOCK_REALTIME, &tx));
  // unshare and setns.
  SHOW(syscall(SYS_unshare, 0));
  SHOW(syscall(SYS_unshare, 1));
  SHOW(syscall(SYS_unshare, 0x80000000UL));
  SHOW(syscall(SYS_unshare, CLONE_FILES | CLONE_FS | CLONE_SYSVSEM));
  SHOW(syscall(SYS_unshare, CLONE_VM | CLONE_SIGHAND | CLONE_THREAD));
  SHOW(syscall(SYS_setns, -1, 0));
  SHOW(syscall(SYS_setns, 1030, 0));
  int f = open("f", O_RDONLY);
  SHOW(syscall(SYS_setns, f, 0));
  int userns = open("/proc/self/ns/user", O_RDONLY);
  SHOW(syscall(SYS_setns, userns, 0));
  SHOW(syscall(SYS_setns, userns, CLONE_NEWUTS));
  int pidfd = (int)syscall(SYS_pidfd_open, getpid(), 0);
  SHOW(syscall(SYS_setns, pidfd, 0));
  SHOW(syscall(SYS_setns, pidfd, 1));
  // ptrace: nothing is traced.
  SHOW(syscall(SYS_ptrace, PTRACE_PEEKDATA_, getppid(), NULL, NULL));
  SHOW(syscall(SYS_ptrace, PTRACE_PEEKDATA_, 999999, NULL, NULL));
  SHOW(syscall(SYS_ptrace, PTRACE_ATTACH_, 999999, NULL, NULL));
  SHOW(syscall(SYS_ptrace, PTRACE_SEIZE_, 1, (void*)1, NULL));
  SHOW(syscall(SYS_ptrace, PTRACE_SEIZE_, 1, NULL, (void*)0x40000000));
  SHOW(syscall(SYS_ptrace, 12345, getppid(), NULL, NULL));
}

static void without_privilege(void) {
  printf("-- without privileges\n");
  struct timespec ts = {1000000000, 0};
  SHOW(syscall(SYS_clock_settime, CLOCK_REALTIME, &ts));
  struct timeval tv = {1000000000, 0};
  SHOW(syscall(SYS_settimeofday, &tv, NULL));
  struct timezone tz = {60, 0};
  SHOW(syscall(SYS_settimeofday, NULL, &tz));
  SHOW(syscall(SYS_settimeofday, NULL, NULL));
  struct timex tx;
  memset(&tx, 0, sizeof tx);
  tx.modes = ADJ_TICK;
  tx.tick = 10000;
  SHOW(syscall(SYS_adjtimex, &tx));
  memset(&tx, 0, sizeof tx);
  tx.modes = ADJ_OFFSET_SINGLESHOT;
  SHOW(syscall(SYS_adjtimex, &tx));
  SHOW(syscall(SYS_clock_adjtime, CLOCK_REALTIME, &tx));
  SHOW(syscall(SYS_sethostname, "elfuse-test", 11));
  SHOW(syscall(SYS_setdomainname, "elfuse-test", 11));
  SHOW(syscall(SYS_reboot, LINUX_REBOOT_MAGIC1, LINUX_REBOOT_MAGIC2, LINUX_REBOOT_CMD_CAD_OFF,
               NULL));
  SHOW(syscall(SYS_acct, "f"));
  SHOW(syscall(SYS_acct, NULL));
  SHOW(syscall(SYS_swapon, "f", 0));
  SHOW(syscall(SYS_swapoff, "f"));
  SHOW(syscall(SYS_mount, "none", "d", "tmpfs", 0, NULL));
  SHOW(syscall(SYS_mount, "/", "d", NULL, MS_BIND, NULL));
  SHOW(syscall(SYS_umount2, "/", MNT_DETACH));
  SHOW(syscall(SYS_pivot_root, "d", "d"));
  SHOW(syscall(SYS_fsopen, "tmpfs", 0));
  SHOW(syscall(SYS_fspick, AT_FDCWD, "/", 0));
  SHOW(syscall(SYS_fsmount, -1, 0, 0));
  SHOW(syscall(SYS_move_mount, AT_FDCWD, "/", AT_FDCWD, "d", 0));
  SHOW(syscall(SYS_open_tree, AT_FDCWD, "/", OPEN_TREE_CLONE));
  struct mount_attr_ attr = {.attr_set = 1};
  SHOW(syscall(SYS_mount_setattr, AT_FDCWD, "/", 0, &attr, sizeof attr));
  SHOW(syscall(SYS_mount_setattr, AT_FDCWD, "/", 0, NULL, sizeof attr));
  SHOW(syscall(SYS_unshare, CLONE_NEWUTS));
  SHOW(syscall(SYS_unshare, CLONE_NEWNS));
  SHOW(syscall(SYS_unshare, CLONE_NEWIPC | CLONE_NEWPID));
  int uts = open("/proc/1/ns/uts", O_RDONLY);
  if (uts < 0) uts = open("/proc/self/ns/uts", O_RDONLY);
  SHOW(syscall(SYS_setns, uts, 0));
  SHOW(syscall(SYS_setns, uts, CLONE_NEWUTS));
  SHOW(syscall(SYS_ptrace, PTRACE_ATTACH_, 1, NULL, NULL));
  SHOW(syscall(SYS_ptrace, PTRACE_SEIZE_, 1, NULL, NULL));
}

int main(void) {
  own_dir_enter();
  setvbuf(stdout, NULL, _IONBF, 0);
  mkdir("d", 0755);
  close(open("f", O_WRONLY | O_CREAT, 0600));
  before_acting();

  pid_t c = fork();
  if (c == 0) {
    if (setresgid(65534, 65534, 65534) != 0 || setresuid(65534, 65534, 65534) != 0)
      printf("(could not become nobody: %s)\n", errname(errno));
    without_privilege();
    _exit(0);
  }
  waitpid(c, NULL, 0);

  printf("-- numbers x86_64 Linux never implemented\n");
  int never[] = {156, 174, 177, 178, 180, 181, 182, 183, 184, 185, 214, 215, 236};
  for (unsigned i = 0; i < sizeof never / sizeof never[0]; i++) {
    errno = 0;
    long r = syscall(never[i], 1, 2, 3, 4, 5, 6);
    printf("syscall %d: %ld %s\n", never[i], r, errname(errno));
  }

  printf("-- seccomp strict mode\n");
  SHOW(syscall(SYS_seccomp, 99, 0, NULL));
  SHOW(syscall(SYS_seccomp, SECCOMP_SET_MODE_STRICT, 1, NULL));
  SHOW(syscall(SYS_seccomp, SECCOMP_SET_MODE_STRICT, 0, (void*)8));
  unsigned action = 0x7fff0000;  // SECCOMP_RET_ALLOW
  SHOW(syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, &action));
  action = 0x12345678;
  SHOW(syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, &action));
  SHOW(syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, (void*)8));
  SHOW(syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 1, &action));
  unsigned short sizes[3] = {0};
  SHOW(syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, sizes));
  printf("sizes %u %u %u\n", sizes[0], sizes[1], sizes[2]);
  SHOW(syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, (void*)8));
  SHOW(prctl(PR_GET_SECCOMP, 0, 0, 0, 0));
  SHOW(prctl(PR_SET_SECCOMP, 7, 0, 0, 0));
  // A strict child may write and exit; anything else kills it.
  for (int k = 0; k < 3; k++) {
    c = fork();
    if (c == 0) {
      if (k == 0)
        syscall(SYS_seccomp, SECCOMP_SET_MODE_STRICT, 0, NULL);
      else
        prctl(PR_SET_SECCOMP, SECCOMP_MODE_STRICT, 0, 0, 0);
      syscall(SYS_write, 1, "strict: write works\n", 20);
      if (k == 2) syscall(SYS_getpid);
      syscall(SYS_exit, 7);
    }
    int status = 0;
    waitpid(c, &status, 0);
    if (WIFSIGNALED(status))
      printf("strict child %d: killed by signal %d\n", k, WTERMSIG(status));
    else
      printf("strict child %d: exit %d\n", k, WEXITSTATUS(status));
  }
  return 0;
}
