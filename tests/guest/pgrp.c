// Process groups and sessions: getpgrp, getpgid, setpgid, getsid, setsid,
// seen from the process itself and from forked children (which synchronise
// over pipes, so every step happens in the same order in every run).
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"

// The child's report, one line at a time, so its output is not mixed into
// the parent's buffer.
static void child_done(int ok) {
  fflush(stdout);
  _exit(ok ? 0 : 1);
}

int main(void) {
  pid_t me = getpid();
  CHECK(getpgrp() == getpgid(0));
  CHECK(getpgid(me) == getpgid(0));
  CHECK(getsid(0) == getsid(me));
  CHECK(getsid(0) > 0);
  SHOW(getpgid(999999999));
  SHOW(getsid(999999999));
  SHOW(setpgid(0, -1));           // EINVAL
  SHOW(setpgid(999999999, 0));    // ESRCH: not us nor a child
  SHOW(syscall(SYS_getpgid, -1)); // ESRCH
  fflush(stdout);

  // A child that becomes a session leader: setsid works (it is not a group
  // leader), makes it leader of a new group and session; a second setsid is
  // EPERM, and it cannot join the parent's group in another session.
  pid_t parent_pgrp = getpgrp();
  pid_t c = fork();
  if (c == 0) {
    pid_t self = getpid();
    CHECK(getpgrp() == parent_pgrp);
    SHOW(setsid() == self);
    CHECK(getsid(0) == self);
    CHECK(getpgrp() == self);
    SHOW(setsid());                     // EPERM: already a group leader
    SHOW(setpgid(0, parent_pgrp));      // EPERM: another session
    SHOW(setpgid(0, 0));                // already its own group: fine
    child_done(1);
  }
  int st;
  OK(waitpid(c, &st, 0));
  printf("child 1 exit %d\n", WEXITSTATUS(st));

  // The parent moves a child (that has not exec'd) into a new group, then
  // back; the child sees it. The pipes order the steps.
  int go[2], back[2];
  OK(pipe(go));
  OK(pipe(back));
  fflush(stdout);
  c = fork();
  if (c == 0) {
    char b;
    close(go[1]);
    close(back[0]);
    if (read(go[0], &b, 1) != 1) _exit(2);
    CHECK(getpgrp() == getpid());
    CHECK(getpgid(getppid()) == parent_pgrp);
    SHOW(write(back[1], "k", 1));
    if (read(go[0], &b, 1) != 1) _exit(2);
    CHECK(getpgrp() == parent_pgrp);
    // A child may not move its parent (ESRCH: not itself or its child).
    SHOW(setpgid(getppid(), getpid()));
    child_done(1);
  }
  close(go[0]);
  close(back[1]);
  OK(setpgid(c, c));
  CHECK(getpgid(c) == c);
  CHECK(getsid(c) == getsid(0));
  fflush(stdout);
  char b;
  OK(write(go[1], "g", 1));
  OK(read(back[0], &b, 1));
  OK(setpgid(c, parent_pgrp));
  CHECK(getpgid(c) == parent_pgrp);
  SHOW(setpgid(c, 999999999));  // EPERM: no such group in the session
  fflush(stdout);
  OK(write(go[1], "g", 1));
  OK(waitpid(c, &st, 0));
  printf("child 2 exit %d\n", WEXITSTATUS(st));
  // A reaped child is gone.
  SHOW(getpgid(c));
  SHOW(setpgid(c, c));
  return 0;
}
