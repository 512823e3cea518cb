// CLONE_PARENT (kernel/fork.c copy_process): the new process is a child of
// the caller's parent, which waits for it; the caller gets ECHILD. clone3
// (exit_signal 0: the parent's own exit signal is used) and legacy clone.
// gVisor's fork.cc CloneTest.CloneParent.
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"

#ifndef SYS_clone3
#define SYS_clone3 435
#endif

struct clone_args_v0 {
  uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls;
};

static void run(const char* title, int use_clone3) {
  pid_t a = getpid();
  int fds[2];
  if (pipe(fds) != 0) return;
  pid_t b = fork();
  if (b == 0) {
    close(fds[0]);
    pid_t c;
    if (use_clone3) {
      struct clone_args_v0 ca = {0};
      ca.flags = CLONE_PARENT;
      c = (pid_t)syscall(SYS_clone3, &ca, sizeof ca);
    } else {
      c = (pid_t)syscall(SYS_clone, CLONE_PARENT | SIGCHLD, 0, 0, 0, 0);
    }
    if (c == 0) _exit(getppid() == a ? 0 : 42);
    if (c < 0) _exit(1);
    if (write(fds[1], &c, sizeof c) != sizeof c) _exit(1);
    int st;
    errno = 0;
    int r = wait4(c, &st, __WALL, NULL);
    _exit(r == -1 && errno == ECHILD ? 0 : 43);
  }
  close(fds[1]);
  int st = 0;
  waitpid(b, &st, 0);
  printf("%s: caller exit %d\n", title, WIFEXITED(st) ? WEXITSTATUS(st) : -1);
  pid_t c = -1;
  if (read(fds[0], &c, sizeof c) != sizeof c) {
    printf("  no child\n");
    return;
  }
  close(fds[0]);
  st = 0;
  int r = wait4(c, &st, __WALL, NULL);
  printf("  wait for the new process: %s, exit %d\n", r == c ? "ours" : errname(errno),
         WIFEXITED(st) ? WEXITSTATUS(st) : -1);
}

int main(void) {
  run("clone3", 1);
  run("clone", 0);
  return 0;
}
