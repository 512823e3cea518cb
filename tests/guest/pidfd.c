// Process file descriptors: pidfd_open, pidfd_send_signal, pidfd_getfd,
// poll on a pidfd (readable when the process ends), waitid(P_PIDFD), and
// the errors of each.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

static int readable(int fd) {
  struct pollfd p = {fd, POLLIN, 0};
  return poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

int main(void) {
  SHOW(syscall(SYS_pidfd_open, -1, 0));
  SHOW(syscall(SYS_pidfd_open, getpid(), 12345));
  int self = syscall(SYS_pidfd_open, getpid(), 0);
  CHECK(self >= 3);
  CHECK(fcntl(self, F_GETFD) == FD_CLOEXEC);
  CHECK(!readable(self));

  // pidfd_getfd: a duplicate of our own stdout.
  int dup_out = syscall(SYS_pidfd_getfd, self, 1, 0);
  struct stat a, b;
  fstat(1, &a);
  fstat(dup_out, &b);
  CHECK(dup_out >= 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev);
  CHECK(fcntl(dup_out, F_GETFD) == FD_CLOEXEC);
  SHOW(syscall(SYS_pidfd_getfd, self, 1, 1));
  SHOW(syscall(SYS_pidfd_getfd, self, 9999, 0));
  SHOW(syscall(SYS_pidfd_getfd, 9999, 1, 0));
  SHOW(syscall(SYS_pidfd_getfd, 1, 1, 0));

  // A child that waits: signal it through its pidfd, poll, waitid.
  int pipefd[2];
  pipe(pipefd);
  pid_t pid = fork();
  if (pid == 0) {
    char c;
    read(pipefd[0], &c, 1);
    _exit(3);
  }
  int child = syscall(SYS_pidfd_open, pid, 0);
  CHECK(!readable(child));
  SHOW(syscall(SYS_pidfd_send_signal, child, SIGTERM, NULL, 0x400));
  SHOW(syscall(SYS_pidfd_send_signal, 9999, SIGTERM, NULL, 0));
  SHOW(syscall(SYS_pidfd_send_signal, 1, SIGTERM, NULL, 0));
  SHOW(syscall(SYS_pidfd_send_signal, child, SIGTERM, (void*)8, 0));
  SHOW(syscall(SYS_pidfd_send_signal, child, 0, NULL, 0));
  SHOW(syscall(SYS_pidfd_send_signal, child, SIGTERM, NULL, 0));
  struct pollfd p = {child, POLLIN, 0};
  SHOW(poll(&p, 1, 5000));
  siginfo_t si = {0};
  SHOW(waitid(P_PIDFD, child, &si, WEXITED));
  printf("child: code %s status %d, pid matches %s\n",
         si.si_code == CLD_KILLED ? "CLD_KILLED" : "other", si.si_status,
         si.si_pid == pid ? "yes" : "no");
  SHOW(syscall(SYS_pidfd_send_signal, child, SIGTERM, NULL, 0));
  // A child that exits by itself.
  pid = fork();
  if (pid == 0) _exit(4);
  child = syscall(SYS_pidfd_open, pid, 0);
  SHOW(waitid(P_PIDFD, child, &si, WEXITED));
  printf("child: code %s status %d\n", si.si_code == CLD_EXITED ? "CLD_EXITED" : "other",
         si.si_status);
  return 0;
}
