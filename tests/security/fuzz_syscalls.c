// A bounded run of random raw system calls with hostile arguments
// (docs/security.md, "Fuzz runs"). For each of a fixed set of seeds a child
// process, in a directory of the test's own, makes a fixed number of calls
// whose numbers and arguments come from that seed: NULL, -1, small integers,
// random words, pointers into a scratch buffer of random bytes, pointers that
// run into an unmapped guard page, kernel addresses, and the addresses just
// above a Linux program's user range where elfuse's shim keeps its pages.
// Calls that would act on the machine or on other processes when the same
// program runs natively as root (signals to other processes, reboot, the
// clock, host name, mounts, modules, swap, ports, namespaces, process
// creation, exec, sockets) are left out, so that the native run is
// harmless; exit, exit_group and rt_sigreturn too, so that children live
// long enough to make their calls.
//
// What must hold, natively and under elfuse: every child ends (by its
// calls, by a signal, or by the parent's SIGKILL after a deadline: a hang of
// the child is killed, a hang of elfuse itself is the test's timeout), the
// parent goes on, nothing appears outside the test's directory, and nothing
// on the child's standard error is an elfuse diagnostic other than a guest's
// death or an unknown syscall number (an internal error, a failed
// assertion, an uncaught exception, a sanitizer report). The child's stderr
// is a pipe the parent reads: it is also elfuse's own stderr under elfuse.
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fuzz_common.h"

enum { kSeeds = 16, kCallsPerChild = 1000, kMaxNr = 460, kDeadlineMs = 4000 };


// Numbers the child never makes: they act outside the child (other
// processes, the machine) when run natively as root, or create processes.
static int excluded(long nr) {
  static const long never[] = {
      SYS_kill, SYS_tkill, SYS_tgkill, SYS_rt_sigqueueinfo, SYS_rt_tgsigqueueinfo,
      SYS_pidfd_send_signal, SYS_reboot, SYS_kexec_load, SYS_kexec_file_load, SYS_init_module,
      SYS_finit_module, SYS_delete_module, SYS_fork, SYS_vfork, SYS_clone, SYS_clone3,
      SYS_execve, SYS_execveat, SYS_ptrace, SYS_process_vm_readv, SYS_process_vm_writev,
      SYS_settimeofday, SYS_clock_settime, SYS_adjtimex, SYS_clock_adjtime, SYS_sethostname,
      SYS_setdomainname, SYS_mount, SYS_umount2, SYS_pivot_root, SYS_chroot, SYS_swapon,
      SYS_swapoff, SYS_acct, SYS_iopl, SYS_ioperm, SYS_sched_setscheduler, SYS_sched_setattr,
      SYS_sched_setparam, SYS_syslog, SYS_vhangup, SYS_keyctl, SYS_add_key, SYS_request_key,
      SYS_bpf, SYS_perf_event_open, SYS_userfaultfd, SYS_io_uring_setup, SYS_io_uring_enter,
      SYS_io_uring_register, SYS_unshare, SYS_setns, SYS_quotactl, SYS_fanotify_init,
      SYS_fanotify_mark, SYS_move_pages, SYS_migrate_pages, SYS_mbind, SYS_set_mempolicy,
      SYS_fsopen, SYS_fsconfig, SYS_fsmount, SYS_fspick, SYS_move_mount, SYS_open_tree,
      SYS_mount_setattr, SYS_kcmp, SYS_pidfd_getfd, SYS_process_madvise, SYS_setpriority,
      SYS_ioprio_set, SYS_sync, SYS_syncfs, SYS_pause, SYS_rt_sigsuspend, SYS_exit_group,
      SYS_seccomp, SYS_setrlimit, SYS_prlimit64, SYS_mlockall, SYS_sched_setaffinity,
      SYS_exit, SYS_rt_sigreturn,
      // No socket is ever made: as root natively, random addresses would
      // send packets to random hosts.
      SYS_socket, SYS_socketpair,
  };
  for (size_t i = 0; i < sizeof never / sizeof never[0]; i++)
    if (never[i] == nr) return 1;
  return 0;
}

static unsigned char* scratch;  // 2 pages of random bytes, then a PROT_NONE page
static const size_t kScratch = 8192;

static uint64_t hostile_arg(void) {
  switch (next() % 12) {
    case 0: return 0;
    case 1: return (uint64_t)-1;
    case 2: return next() % 64;
    case 3: return next();
    case 4: return (uint64_t)(uintptr_t)(scratch + next() % kScratch);
    case 5: return (uint64_t)(uintptr_t)(scratch + kScratch - 1 - next() % 16);  // runs into the guard
    case 6: return 0xffff800000000000ULL + (next() % 4096) * 4096;          // kernel half
    case 7: return 0x7fffff000000ULL + (next() % 0x600) * 4096;             // elfuse's PVM pages
    case 8: return 0x7ffffffff000ULL - next() % 64;                         // the last user page
    case 9: return 0x00007fffffffe000ULL + next() % 0x2000;                 // around TASK_SIZE
    case 10: return (uint64_t)(int64_t)(int32_t)next();                     // a negative int
    default: return next() % 4096;
  }
}

static void child(uint64_t seed);

// In the child: its own directory inside the test's, then the calls.
static void child_in(const char* sub, uint64_t seed) {
  if (chdir(sub) != 0) _exit(3);
  child(seed);
}

static void child(uint64_t seed) {
  // Standard input and output are /dev/null: what random writes print must
  // not reach the comparison. Standard error stays the parent's pipe.
  int null = open("/dev/null", O_RDWR);
  dup2(null, 0);
  dup2(null, 1);
  if (null > 2) close(null);
  scratch = mmap(NULL, kScratch + 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (scratch == MAP_FAILED) _exit(3);
  mprotect(scratch + kScratch, 4096, PROT_NONE);
  rng = seed * 0x9E3779B97F4A7C15ULL + 1;
  for (size_t i = 0; i < kScratch; i++) scratch[i] = (unsigned char)next();
  // Paths made of the scratch bytes stay in the child's directory: no '/'
  // (nothing from the root), no '.' (no "..").
  for (size_t i = 0; i < kScratch; i++)
    if (scratch[i] == '/' || scratch[i] == '.') scratch[i] = 'x';
  for (int i = 0; i < kCallsPerChild; i++) {
    long nr = (long)(next() % kMaxNr);
    if (excluded(nr)) continue;
    uint64_t a[6];
    for (int k = 0; k < 6; k++) a[k] = hostile_arg();
    // Never close or replace standard error (the parent's pipe).
    if ((nr == SYS_close || nr == SYS_dup2 || nr == SYS_dup3) && (a[0] == 2 || a[1] == 2)) continue;
    if (nr == SYS_close_range) continue;
    syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
  }
  _exit(0);
}

int main(void) {
  char dir[] = "/tmp/fuzz_syscalls.XXXXXX";
  if (!mkdtemp(dir) || chdir(dir) != 0) return 2;
  int said = 0, children = 0;
  for (int s = 0; s < kSeeds; s++) {
    char sub[32];
    snprintf(sub, sizeof sub, "c%d", s);
    mkdir(sub, 0700);
    said += run_bounded(child_in, sub, (uint64_t)s + 1, kDeadlineMs, s);
    children++;
  }
  // Nothing outside the test's directory: the children's directories are
  // all it holds, whatever the calls made inside them.
  DIR* d = opendir(".");
  int outside = 0;
  struct dirent* e;
  while (d && (e = readdir(d)))
    if (e->d_name[0] != '.' && e->d_name[0] != 'c') outside++;
  if (d) closedir(d);
  printf("children: %d, all ended\n", children);
  printf("elfuse diagnostics: %s\n", said ? "LEAK" : "none");
  printf("unexpected names in the test directory: %d\n", outside);
  // Leave nothing behind (best effort: the children may have made
  // read-only or odd names).
  chdir("/");
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  (void)system(cmd);
  return said ? 1 : 0;
}
