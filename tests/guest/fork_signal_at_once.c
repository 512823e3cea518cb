// A signal sent to a child at once after fork, while (under elfuse) it is
// still building its VM, is the child's own (kernel/fork.c: the parent's
// pending signals are not inherited; one sent to the child is kept): it is
// delivered when the child first runs. The child waits in pause(), so a
// lost signal is a hang (the compare's timeout). gVisor's
// SigIretTest.BadHandler: a handler at a non-canonical address, whose
// delivery is the child's death by SIGSEGV.
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"

static void exit_7(int sig) {
  (void)sig;
  _exit(7);
}

static void run(const char* title, void (*handler)(int), int rounds) {
  struct sigaction sa = {0};
  sa.sa_handler = handler;
  sigaction(SIGUSR1, &sa, NULL);
  int counts[2] = {0, 0};  // exit 7, killed by SIGSEGV
  for (int i = 0; i < rounds; i++) {
    pid_t pid = fork();
    if (pid < 0) {
      printf("fork: %s\n", errname(errno));
      return;
    }
    if (pid == 0) {
      for (;;) pause();
    }
    kill(pid, SIGUSR1);
    int st = 0;
    if (waitpid(pid, &st, 0) != pid) {
      printf("waitpid: %s\n", errname(errno));
      return;
    }
    if (WIFEXITED(st) && WEXITSTATUS(st) == 7)
      counts[0]++;
    else if (WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV)
      counts[1]++;
    else
      printf("  round %d: status %#x\n", i, st);
  }
  printf("%s: exit 7: %d, SIGSEGV: %d\n", title, counts[0], counts[1]);
}

int main(void) {
  run("handler", exit_7, 20);
  run("non-canonical handler", (void (*)(int))(uintptr_t)0xCCCC000000000000ull, 20);
  return 0;
}
