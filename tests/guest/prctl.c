// prctl: task name, parent-death signal, child subreaper (an orphaned
// grandchild is re-parented to us), compared with native.
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"

int main(void) {
  char name[16] = {0};
  OK(prctl(PR_SET_NAME, "a-very-long-task-name", 0, 0, 0));
  OK(prctl(PR_GET_NAME, name, 0, 0, 0));
  printf("name: %s\n", name);

  int sig = -1;
  OK(prctl(PR_SET_PDEATHSIG, SIGUSR2, 0, 0, 0));
  OK(prctl(PR_GET_PDEATHSIG, &sig, 0, 0, 0));
  printf("pdeathsig: %d\n", sig);
  SHOW(prctl(PR_SET_PDEATHSIG, 65, 0, 0, 0));
  SHOW(prctl(PR_GET_PDEATHSIG, (int*)1, 0, 0, 0));
  OK(prctl(PR_SET_PDEATHSIG, 0, 0, 0, 0));

  int reaper = -1;
  OK(prctl(PR_GET_CHILD_SUBREAPER, &reaper, 0, 0, 0));
  printf("subreaper before: %d\n", reaper);
  OK(prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0));
  OK(prctl(PR_GET_CHILD_SUBREAPER, &reaper, 0, 0, 0));
  printf("subreaper after: %d\n", reaper);

  // A child forks a grandchild and exits; the grandchild, orphaned, gets us
  // as its parent and reports whether that is so.
  int p[2];
  if (pipe(p) < 0) return 1;
  pid_t me = getpid();
  fflush(stdout);
  pid_t child = fork();
  if (child == 0) {
    if (fork() == 0) {
      close(p[0]);
      while (getppid() != me && getppid() != 1) usleep(1000);
      char c = getppid() == me ? 'y' : 'n';
      (void)!write(p[1], &c, 1);
      _exit(0);
    }
    _exit(0);
  }
  close(p[1]);
  waitpid(child, NULL, 0);
  char c = '?';
  (void)!read(p[0], &c, 1);
  printf("orphan re-parented to the subreaper: %c\n", c);
  int status;
  pid_t w = wait(&status);
  printf("reaped the grandchild: %s\n", w > 0 && WIFEXITED(status) ? "yes" : "no");
  SHOW(prctl(12345, 0, 0, 0, 0));
  return 0;
}
