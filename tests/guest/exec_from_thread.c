// execve from a thread other than the leader (fs/exec.c de_thread): the
// exec'ing thread takes the leader's pid as its tid, the other threads
// (the leader too) are gone, and the parent's wait sees the same pid with
// the new program's exit status. With CLONE_VFORK (gVisor's wait.cc
// WaitSpecificChildTest.AfterChildExecve) the creator sleeps until the
// thread execs and never returns from clone: the exit status is the new
// program's. Without it (processes.cc ExecSwapThreadGroupLeader) the
// leader is busy sleeping when the thread execs /proc/self/exe.
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"

static char pid_arg[32], tid_arg[32];
static char* new_argv[] = {"exec_from_thread", "post", pid_arg, tid_arg, NULL};

static int exec_fn(void* arg) {
  (void)arg;
  snprintf(pid_arg, sizeof pid_arg, "%ld", (long)syscall(SYS_getpid));
  snprintf(tid_arg, sizeof tid_arg, "%ld", (long)syscall(SYS_gettid));
  syscall(SYS_execve, "/proc/self/exe", new_argv, NULL);
  return 100;  // the thread's exit status; the vfork parent then sees it
}

static void run(const char* title, int vfork_flag) {
  char* stack = mmap(NULL, 65536, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (stack == MAP_FAILED) return;
  fflush(stdout);
  pid_t child = fork();
  if (child == 0) {
    int flags = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | vfork_flag;
    long r = clone(exec_fn, stack + 65536, flags, NULL);
    if (vfork_flag) syscall(SYS_exit_group, r < 0 ? 98 : 99);  // clone returned
    for (;;) pause();
  }
  int st = 0;
  pid_t w = waitpid(child, &st, 0);
  printf("%s: waited the child: %s, exit %d\n", title, w == child ? "yes" : "NO",
         WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st));
  munmap(stack, 65536);
}

int main(int argc, char** argv) {
  if (argc == 4) {
    long pid = atol(argv[2]), tid = atol(argv[3]);
    int code = 0;
    if (syscall(SYS_getpid) == pid) code |= 1;            // the same pid
    if (syscall(SYS_gettid) == pid) code |= 2;            // tid == pid
    if (tid != pid) code |= 4;                            // a thread exec'd
    if (syscall(SYS_tgkill, pid, tid, 0) < 0) code |= 8;  // its tid is gone
    _exit(code);
  }
  run("exec from a thread", 0);
  run("exec from a CLONE_VFORK thread", CLONE_VFORK);
  return 0;
}
