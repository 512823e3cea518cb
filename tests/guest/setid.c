// The set*id family and setgroups: errors in the kernel's order, ids being
// per thread (the raw syscall changes only the calling thread; the libc
// wrappers change every thread), and a process that has dropped root still
// forking and executing. As root every call succeeds where Linux lets root;
// as another user the same calls give EPERM, natively and under elfuse.
#include <grp.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/fsuid.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"

static void ids(const char* when) {
  uid_t r, e, s;
  gid_t gr, ge, gs;
  getresuid(&r, &e, &s);
  getresgid(&gr, &ge, &gs);
  printf("%s: uid %u %u %u gid %u %u %u groups %d\n", when, r, e, s, gr, ge, gs,
         getgroups(0, NULL));
}

static void* thread_drop(void* arg) {
  (void)arg;
  // Raw: only this thread's effective uid changes.
  SHOW(syscall(SYS_setresuid, -1, 65534, -1));
  printf("thread: euid %u\n", geteuid());
  return NULL;
}

static void wait_child(const char* what, pid_t pid) {
  int status = 0;
  if (waitpid(pid, &status, 0) != pid) {
    printf("%s: waitpid %s\n", what, errname(errno));
    return;
  }
  if (WIFEXITED(status))
    printf("%s: exit %d\n", what, WEXITSTATUS(status));
  else
    printf("%s: signal %d\n", what, WTERMSIG(status));
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  int root = geteuid() == 0;
  printf("root: %s\n", root ? "yes" : "no");

  // setgroups: EPERM (not root) before EINVAL before EFAULT.
  SHOW(syscall(SYS_setgroups, 65537, NULL));
  SHOW(syscall(SYS_setgroups, -1, NULL));
  SHOW(syscall(SYS_setgroups, 1, (void*)8));
  SHOW(syscall(SYS_setgroups, 2, (void*)(-8L)));
  // Unchanged ids: allowed for anyone.
  SHOW(syscall(SYS_setresuid, -1, -1, -1));
  SHOW(syscall(SYS_setresgid, -1, -1, -1));
  SHOW(syscall(SYS_setreuid, -1, -1));
  SHOW(syscall(SYS_setregid, -1, -1));
  // Only the low 32 bits of the register are the id: -1 with junk above.
  SHOW(syscall(SYS_setresuid, 0xabcd0000ffffffffUL, -1L, -1L));
  // The current fsuid comes back whether or not it changes.
  SHOW(setfsuid(-1) == (int)geteuid());
  SHOW(setfsgid(-1) == (int)getegid());

  // Everything below changes ids: in a child, so the parent stays as it was.
  pid_t pid = fork();
  if (pid == 0) {
    gid_t groups[2] = {65534, 100};
    SHOW(setgroups(2, groups));
    SHOW(syscall(SYS_setresgid, -1, 65534, -1));
    SHOW(syscall(SYS_setresuid, -1, 65534, -1));
    ids("effective nobody");
    SHOW(setfsuid(0));
    SHOW(setfsuid(-1));
    // The saved uid is still root's: the effective uid may go back.
    SHOW(syscall(SYS_setresuid, -1, 0, -1));
    SHOW(syscall(SYS_setresgid, -1, 0, -1));
    ids("back");

    // Per thread: a raw call in another thread changes only that thread.
    pthread_t t;
    pthread_create(&t, NULL, thread_drop, NULL);
    pthread_join(t, NULL);
    printf("main: euid %u\n", geteuid());

    // setreuid/setregid/setuid/setgid: drop for good.
    SHOW(setregid(65534, 65534));
    SHOW(setreuid(65534, 65534));
    ids("dropped");
    SHOW(setuid(0));
    SHOW(setgid(0));
    SHOW(syscall(SYS_setresuid, 0, 0, 0));
    SHOW(setgroups(0, NULL));
    SHOW(setuid(65534));
    SHOW(setfsuid(0));

    // A process with no privileges left still forks and executes.
    pid_t child = fork();
    if (child == 0) _exit(7);
    wait_child("fork after drop", child);
    child = fork();
    if (child == 0) {
      execl("/bin/sh", "sh", "-c", "echo exec: uid $(id -u) gid $(id -g); exit 5", (char*)NULL);
      _exit(127);
    }
    wait_child("exec after drop", child);
    _exit(0);
  }
  wait_child("child", pid);
  ids("parent");
  return 0;
}
