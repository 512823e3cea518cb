// Credentials: the set*id family and setgroups, their errors, and what a
// process can still do after dropping root (fork, execve: elfuse must not
// need to reopen /dev/kvm with the new ids). The C library's set*id in a
// threaded process changes every thread (glibc and musl signal each thread,
// which makes the raw call itself). Prints what it sees; as root it drops to
// nobody in a child, otherwise the same calls fail with EPERM both ways.
#include <grp.h>
#include <pthread.h>
#include <sys/fsuid.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"

static void show_ids(const char* who) {
  unsigned r[3], s[3];
  syscall(SYS_getresuid, &r[0], &r[1], &r[2]);
  syscall(SYS_getresgid, &s[0], &s[1], &s[2]);
  long n = syscall(SYS_getgroups, 0, NULL);
  printf("%s: uid %u %u %u gid %u %u %u groups %ld\n", who, r[0], r[1], r[2], s[0], s[1], s[2],
         n);
}

static pthread_barrier_t barrier;

static void* thread_main(void* arg) {
  pthread_barrier_wait(&barrier);  // main drops its ids
  pthread_barrier_wait(&barrier);
  show_ids("thread");
  return NULL;
}

static void wait_child(const char* what, pid_t pid) {
  int status;
  if (pid < 0) {
    printf("%s: fork failed %s\n", what, errname(errno));
    return;
  }
  waitpid(pid, &status, 0);
  if (WIFEXITED(status))
    printf("%s: exit %d\n", what, WEXITSTATUS(status));
  else
    printf("%s: signal %d\n", what, WTERMSIG(status));
}

// In a child: drop to 65534 everywhere, in a process with a second thread.
static int drop_child(void) {
  pthread_t t;
  pthread_barrier_init(&barrier, NULL, 2);
  pthread_create(&t, NULL, thread_main, NULL);
  pthread_barrier_wait(&barrier);
  gid_t none[1] = {65534};
  OK(setgroups(1, none));
  OK(setresgid(65534, 65534, 65534));
  OK(setresuid(65534, 65534, 65534));
  pthread_barrier_wait(&barrier);
  pthread_join(t, NULL);
  show_ids("child");
  // Dropped: getting root back fails, setting to what we are works.
  SHOW(setuid(0));
  SHOW(seteuid(0));
  OK(setreuid(-1, 65534));
  SHOW(setgroups(0, NULL));
  SHOW(syscall(SYS_setgroups, 1, (void*)8));  // EPERM comes before EFAULT
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    show_ids("grandchild");
    _exit(7);
  }
  wait_child("fork after drop", pid);
  fflush(stdout);
  pid = fork();
  if (pid == 0) {
    char* argv[] = {"/bin/sh", "-c", "exit 5", NULL};
    execv(argv[0], argv);
    _exit(99);
  }
  wait_child("execve after drop", pid);
  return 0;
}

int main(void) {
  int root = geteuid() == 0;
  printf("root: %s\n", root ? "yes" : "no");
  show_ids("start");
  // Unchanged ids always work.
  OK(setresuid(-1, -1, -1));
  OK(setresgid(-1, -1, -1));
  OK(setreuid(-1, -1));
  OK(setregid(-1, -1));
  OK(setuid(getuid()));
  OK(setgid(getgid()));
  // setfs*id return the previous value and never fail.
  SHOW(setfsuid(-1) == (int)geteuid());
  SHOW(setfsgid(-1) == (int)getegid());
  // setgroups: size checks, then the list.
  SHOW(syscall(SYS_setgroups, -1, NULL));
  SHOW(syscall(SYS_setgroups, 65537, NULL));
  SHOW(syscall(SYS_setgroups, 1, (void*)8));
  gid_t mine[64];
  int n = getgroups(64, mine);
  OK(setgroups(n, mine));
  show_ids("after no-op changes");
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    if (root) return drop_child();
    SHOW(setuid(0));
    SHOW(setresuid(0, 0, 0));
    SHOW(setgroups(0, NULL));
    return 0;
  }
  wait_child("child", pid);
  show_ids("parent");
  return 0;
}
