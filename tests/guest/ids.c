// getpid, getppid, gettid, get[e]uid, get[e]gid (which elfuse answers inside
// the guest) agree with the kernel's view everywhere they change: after
// fork, in threads (also a thread that reuses an ended thread's vCPU),
// after execve, after the parent dies (reparenting), after a thread changes
// its own credentials, called in a tight loop
// and through syscall(2); and FUTEX_WAKE_PRIVATE (answered in the guest
// when nobody waits) still wakes waiters and checks its address.
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"

#define FUTEX_WAIT_PRIVATE 128
#define FUTEX_WAKE_PRIVATE 129
#define FUTEX_WAKE 1

static pid_t tid(void) {
  return (pid_t)syscall(SYS_gettid);
}

// The tid the kernel names the calling thread by: /proc/thread-self.
static pid_t proc_tid(void) {
  char buf[64] = {0};
  if (readlink("/proc/thread-self", buf, sizeof buf - 1) <= 0) return -1;
  char* slash = strrchr(buf, '/');
  return slash ? atoi(slash + 1) : -1;
}

static pid_t proc_pid(void) {
  char buf[64] = {0};
  if (readlink("/proc/self", buf, sizeof buf - 1) <= 0) return -1;
  return atoi(buf);
}

static void* thread_ids(void* p) {
  pid_t* out = p;
  out[0] = tid();
  out[1] = proc_tid();
  out[2] = getpid();
  return NULL;
}

static void threads(void) {
  pid_t first[3], second[3];
  pthread_t t;
  pthread_create(&t, NULL, thread_ids, first);
  pthread_join(t, NULL);
  // The next thread reuses the first one's vCPU: its own tid all the same.
  pthread_create(&t, NULL, thread_ids, second);
  pthread_join(t, NULL);
  CHECK(first[0] == first[1] && first[0] != getpid() && first[2] == getpid());
  CHECK(second[0] == second[1] && second[0] != getpid() && second[2] == getpid());
  CHECK(tid() == getpid());
}

static void loops(void) {
  pid_t pid = getpid(), ppid = getppid(), self = tid();
  uid_t uid = getuid(), euid = geteuid();
  gid_t gid = getgid(), egid = getegid();
  long bad = 0;
  for (int i = 0; i < 5000; i++) {
    if (getpid() != pid || getppid() != ppid || tid() != self) bad++;
    if (getuid() != uid || geteuid() != euid || getgid() != gid || getegid() != egid) bad++;
    if (syscall(SYS_getpid) != pid || syscall(SYS_getppid) != ppid) bad++;
  }
  printf("loop: %ld wrong\n", bad);
  CHECK(pid == proc_pid() && self == proc_tid());
}

static void forked(void) {
  pid_t parent = getpid();
  int fds[2];
  if (pipe(fds) < 0) return;
  pid_t child = fork();
  if (child == 0) {
    pid_t ids[3] = {getpid(), getppid(), tid()};
    (void)!write(fds[1], ids, sizeof ids);
    _exit(0);
  }
  pid_t ids[3];
  (void)!read(fds[0], ids, sizeof ids);
  waitpid(child, NULL, 0);
  CHECK(ids[0] == child && ids[1] == parent && ids[2] == child);
  close(fds[0]);
  close(fds[1]);
}

// A grandchild whose parent exits is reparented (to us: a subreaper); it
// polls getppid() without sleeping, as a busy program would.
static void reparented(void) {
  pid_t me = getpid();
  prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
  int fds[2];
  if (pipe(fds) < 0) return;
  pid_t child = fork();
  if (child == 0) {
    pid_t grandchild = fork();
    if (grandchild == 0) {
      pid_t first = getppid();
      (void)!write(fds[1], &first, sizeof first);
      long spins = 0;
      while (getppid() != me && spins < 2000000000L) spins++;
      pid_t now = getppid();
      (void)!write(fds[1], &now, sizeof now);
      _exit(0);
    }
    pid_t first;
    (void)!read(fds[0], &first, sizeof first);
    _exit(first == getpid() ? 0 : 1);
  }
  int status = 0;
  waitpid(child, &status, 0);
  pid_t now = 0;
  (void)!read(fds[0], &now, sizeof now);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  CHECK(now == me);
  while (wait(NULL) > 0) {
  }
  prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0);
  close(fds[0]);
  close(fds[1]);
}

// Credentials are per thread: a raw setresuid in one thread changes what
// getuid() says there, not in the others (glibc's setuid() would make every
// thread call it). Run as root the change works; otherwise both runs see
// EPERM and nothing changes.
static void* drop_ids(void* p) {
  long* out = p;
  errno = 0;
  out[0] = syscall(SYS_setresuid, 65534, 65534, 65534) == 0 ? 0 : errno;
  out[1] = getuid();
  out[2] = geteuid();
  return NULL;
}

static void per_thread_creds(void) {
  pid_t child = fork();
  if (child == 0) {
    long out[3];
    uid_t before = getuid();
    pthread_t t;
    pthread_create(&t, NULL, drop_ids, out);
    pthread_join(t, NULL);
    printf("thread setresuid: %s, thread uid %s, main uid %s\n", errname((int)out[0]),
           out[1] == (before == 0 ? 65534 : (long)before) ? "as expected" : "WRONG",
           getuid() == before ? "unchanged" : "CHANGED");
    _exit(0);
  }
  waitpid(child, NULL, 0);
}

static int futex_word;

static void* waiter(void* p) {
  (void)p;
  while (__atomic_load_n(&futex_word, __ATOMIC_ACQUIRE) == 0)
    syscall(SYS_futex, &futex_word, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
  return NULL;
}

static void futexes(void) {
  uint32_t aligned[2] = {0, 0};
  SHOW(syscall(SYS_futex, &aligned[0], FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0));
  SHOW(syscall(SYS_futex, (char*)&aligned[0] + 1, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0));
  // Unmapped: a private wake needs no page; past the user range: EFAULT.
  SHOW(syscall(SYS_futex, (void*)0x100000000000, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0));
  SHOW(syscall(SYS_futex, (void*)0x800000000000, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0));
  SHOW(syscall(SYS_futex, &aligned[1], FUTEX_WAKE, 1, NULL, NULL, 0));
  // A waiter must be woken: a lost wake would hang here.
  for (int round = 0; round < 200; round++) {
    futex_word = 0;
    pthread_t t;
    pthread_create(&t, NULL, waiter, NULL);
    if (round % 2) usleep(100);
    __atomic_store_n(&futex_word, 1, __ATOMIC_RELEASE);
    syscall(SYS_futex, &futex_word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
    pthread_join(t, NULL);
  }
  printf("200 wakes: ok\n");
}

int main(int argc, char** argv) {
  setvbuf(stdout, NULL, _IONBF, 0);
  if (argc > 1) {
    // After execve: the same process, the ids of the one thread.
    pid_t before = (pid_t)atoi(argv[1]);
    CHECK(getpid() == before && tid() == before && proc_tid() == before);
    return 0;
  }
  loops();
  threads();
  forked();
  reparented();
  per_thread_creds();
  futexes();
  char pid[32];
  snprintf(pid, sizeof pid, "%d", getpid());
  execl("/proc/self/exe", argv[0], pid, (char*)NULL);
  printf("execl: %s\n", errname(errno));
  return 1;
}
