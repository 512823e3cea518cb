// Signals that reach a child while it is being born. The parent forks and at
// once sends the child a burst of caught signals; under elfuse that child is
// still building its VM (KVM_CREATE_VM fails with EINTR when a signal is
// pending), and must go on to run and exit normally, as natively.
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"

static void noop(int sig) {
  (void)sig;
}

int main(void) {
  struct sigaction sa = {0};
  sa.sa_handler = noop;
  sigaction(SIGUSR1, &sa, NULL);
  sigaction(SIGUSR2, &sa, NULL);
  int exited3 = 0, other = 0;
  for (int i = 0; i < 100; i++) {
    pid_t pid = fork();
    if (pid < 0) {
      printf("fork: %s\n", errname(errno));
      return 1;
    }
    if (pid == 0) _exit(3);
    for (int k = 0; k < 10; k++) {
      kill(pid, SIGUSR1);
      kill(pid, SIGUSR2);
    }
    int st = 0;
    if (waitpid(pid, &st, 0) != pid) {
      printf("waitpid: %s\n", errname(errno));
      return 1;
    }
    if (WIFEXITED(st) && WEXITSTATUS(st) == 3) {
      exited3++;
    } else {
      if (other++ < 3)
        printf("child %d: %s %d\n", i, WIFEXITED(st) ? "exited" : "killed by",
               WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
    }
  }
  printf("children that exited 3: %d, otherwise: %d\n", exited3, other);
  return 0;
}
