// clone3 and clone with CLONE_PIDFD (kernel/fork.c): the parent gets a
// close-on-exec pidfd (the lowest free descriptor) of the child, stored at
// clone_args.pidfd (clone: at parent_tid); the child has no such
// descriptor. An address that cannot be written is EFAULT with no child;
// CLONE_PIDFD with CLONE_PARENT_SETTID at the same address, or with
// CLONE_DETACHED, is EINVAL. The pidfd names the child: pidfd_send_signal,
// waitid(P_PIDFD), poll. gVisor's pidfd_test.cc Clone3Pidfd cases.
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif
#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x1000
#endif
#ifndef SYS_clone3
#define SYS_clone3 435
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif

// include/uapi/linux/sched.h (musl has no linux/ headers of its own).
struct clone_args_v0 {
  uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls;
};

static long clone3_pidfd(int* fd, uint64_t extra_flags) {
  struct clone_args_v0 ca = {0};
  ca.flags = CLONE_PIDFD | extra_flags;
  ca.exit_signal = SIGCHLD;
  ca.pidfd = (uint64_t)(uintptr_t)fd;
  return syscall(SYS_clone3, &ca, sizeof ca);
}

static int lowest_free_fd(void) {
  int fd = dup(0);
  close(fd);
  return fd;
}

int main(void) {
  // A child that exits at once; its pidfd in the parent.
  int expect = lowest_free_fd();
  int fd = -2;
  long pid = clone3_pidfd(&fd, 0);
  if (pid == 0) {
    // The child: the descriptor is not in its table.
    _exit(fcntl(expect, F_GETFD) < 0 && errno == EBADF ? 0 : 9);
  }
  printf("clone3: %s\n", pid > 0 ? "child" : errname(errno));
  printf("pidfd is the lowest free fd: %s\n", fd == expect ? "yes" : "no");
  printf("pidfd close-on-exec: %s\n", (fcntl(fd, F_GETFD) & FD_CLOEXEC) ? "yes" : "no");
  siginfo_t si = {0};
  printf("waitid(P_PIDFD) = %d\n", waitid(P_PIDFD, fd, &si, WEXITED));
  printf("  si_pid is the child: %s, status %d\n", si.si_pid == pid ? "yes" : "no", si.si_status);
  close(fd);

  // A child that pauses: killed through its pidfd, poll sees it end.
  fd = -2;
  pid = clone3_pidfd(&fd, 0);
  if (pid == 0) {
    for (;;) pause();
  }
  SHOW(syscall(SYS_pidfd_send_signal, fd, SIGKILL, NULL, 0));
  struct pollfd p = {fd, POLLIN, 0};
  SHOW(poll(&p, 1, 5000));
  printf("  revents POLLIN: %s\n", (p.revents & POLLIN) ? "yes" : "no");
  int st = 0;
  SHOW(waitpid(pid, &st, 0) == pid);
  printf("  killed by %d\n", WIFSIGNALED(st) ? WTERMSIG(st) : -1);
  SHOW(syscall(SYS_pidfd_send_signal, fd, 0, NULL, 0));
  close(fd);

  // Addresses that cannot take the descriptor: EFAULT, no child.
  char* none = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  char* ro = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  SHOW(clone3_pidfd((int*)none, 0));
  SHOW(clone3_pidfd((int*)ro, 0));
  SHOW(clone3_pidfd(NULL, 0));
  SHOW(waitpid(-1, NULL, WNOHANG));

  // CLONE_DETACHED is reserved with CLONE_PIDFD.
  SHOW(clone3_pidfd(&fd, CLONE_DETACHED));
  // clone3: pidfd and parent_tid at one address.
  {
    struct clone_args_v0 ca = {0};
    int both = -2;
    ca.flags = CLONE_PIDFD | CLONE_PARENT_SETTID;
    ca.exit_signal = SIGCHLD;
    ca.pidfd = ca.parent_tid = (uint64_t)(uintptr_t)&both;
    SHOW(syscall(SYS_clone3, &ca, sizeof ca));
  }

  // Legacy clone: the pidfd comes back through parent_tid.
  fd = -2;
  pid = syscall(SYS_clone, CLONE_PIDFD | SIGCHLD, NULL, &fd, NULL, NULL);
  if (pid == 0) _exit(5);
  printf("clone: %s, pidfd %s\n", pid > 0 ? "child" : errname(errno), fd >= 0 ? "set" : "not set");
  si.si_pid = 0;
  printf("waitid(P_PIDFD) = %d, status %d\n", waitid(P_PIDFD, fd, &si, WEXITED), si.si_status);
  close(fd);
  SHOW(syscall(SYS_clone, CLONE_PIDFD | CLONE_PARENT_SETTID | SIGCHLD, NULL, &fd, NULL, NULL));
  return 0;
}
