// pidfd_open, pidfd_send_signal, pidfd_getfd, process_mrelease,
// process_madvise on the caller's own memory, and kcmp, with their errno
// orders. kcmp's ordering of different objects is the kernel's obfuscated
// pointer order, so only equal/different is printed.
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"
#include "own_dir.h"

#ifndef SYS_process_mrelease  // musl's headers predate it
#define SYS_process_mrelease 448
#endif

#define KCMP_FILE 0
#define KCMP_VM 1
#define KCMP_FILES 2
#define KCMP_FS 3
#define KCMP_SIGHAND 4
#define KCMP_IO 5
#define KCMP_SYSVSEM 6
#define KCMP_EPOLL_TFD 7

static volatile int got_sig, got_code, got_value;
static void on_sig(int sig, siginfo_t* si, void* uc) {
  got_sig = sig;
  got_code = si->si_code;
  got_value = si->si_value.sival_int;
}

static void kcmp_show(const char* what, long r) {
  if (r < 0)
    printf("%s: -1 %s\n", what, errname(errno));
  else
    printf("%s: %s\n", what, r == 0 ? "equal" : "different");
}
#define KCMP(a, b, t, i1, i2) (errno = 0, kcmp_show(#a " " #b " " #t " " #i1 " " #i2, \
                                                    syscall(SYS_kcmp, a, b, t, i1, i2)))

static pid_t thread_tid;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static void* thread_main(void* arg) {
  thread_tid = gettid();
  pthread_mutex_lock(&mu);  // wait for main to finish its checks
  pthread_mutex_unlock(&mu);
  return NULL;
}

int main(void) {
  own_dir_enter();
  int self = (int)SHOW(syscall(SYS_pidfd_open, getpid(), 0));
  SHOW(syscall(SYS_pidfd_open, 999999, 0));
  SHOW(syscall(SYS_pidfd_open, -1, 0));
  SHOW(syscall(SYS_pidfd_open, getpid(), 1));
  int nb = (int)SHOW(syscall(SYS_pidfd_open, getpid(), O_NONBLOCK));
  printf("nonblock flag: %s\n", (fcntl(nb, F_GETFL) & O_NONBLOCK) ? "yes" : "no");
  printf("cloexec: %s\n", (fcntl(self, F_GETFD) & FD_CLOEXEC) ? "yes" : "no");

  // Signals through a pidfd: to oneself, with and without a siginfo.
  struct sigaction sa = {.sa_sigaction = on_sig, .sa_flags = SA_SIGINFO};
  sigaction(SIGUSR1, &sa, NULL);
  SHOW(syscall(SYS_pidfd_send_signal, self, SIGUSR1, NULL, 0));
  printf("got %d code %s\n", got_sig, got_code == SI_USER ? "SI_USER" : "other");
  siginfo_t info;
  memset(&info, 0, sizeof info);
  info.si_signo = SIGUSR1;
  info.si_code = SI_QUEUE;
  info.si_pid = getpid();
  info.si_uid = getuid();
  info.si_value.sival_int = 31337;
  got_sig = 0;
  SHOW(syscall(SYS_pidfd_send_signal, self, SIGUSR1, &info, 0));
  printf("got %d code %s value %d\n", got_sig, got_code == SI_QUEUE ? "SI_QUEUE" : "other",
         got_value);
  SHOW(syscall(SYS_pidfd_send_signal, self, SIGUSR2, &info, 0));  // signo mismatch
  SHOW(syscall(SYS_pidfd_send_signal, self, SIGUSR1, (void*)8, 0));
  SHOW(syscall(SYS_pidfd_send_signal, 999, SIGUSR1, (void*)8, 0));
  SHOW(syscall(SYS_pidfd_send_signal, self, SIGUSR1, NULL, 0x80));
  SHOW(syscall(SYS_pidfd_send_signal, self, 99, NULL, 0));
  SHOW(syscall(SYS_pidfd_send_signal, 0, SIGUSR1, NULL, 0));
  SHOW(syscall(SYS_pidfd_send_signal, 1030, SIGUSR1, NULL, 0));
  SHOW(syscall(SYS_pidfd_send_signal, self, 0, NULL, 0));

  // pidfd_getfd: a dup sharing the file offset.
  int f = open("file", O_RDWR | O_CREAT | O_TRUNC, 0600);
  write(f, "abcdef", 6);
  int g = (int)SHOW(syscall(SYS_pidfd_getfd, self, f, 0));
  SHOW(lseek(g, 0, SEEK_CUR));
  printf("getfd cloexec: %s\n", (fcntl(g, F_GETFD) & FD_CLOEXEC) ? "yes" : "no");
  SHOW(syscall(SYS_pidfd_getfd, self, 999, 0));
  SHOW(syscall(SYS_pidfd_getfd, self, 1030, 0));
  SHOW(syscall(SYS_pidfd_getfd, self, -1, 0));
  SHOW(syscall(SYS_pidfd_getfd, self, f, 1));
  SHOW(syscall(SYS_pidfd_getfd, f, f, 0));
  SHOW(syscall(SYS_pidfd_getfd, 999, f, 0));

  // A child: kcmp, getfd of its fd, mrelease while alive, signal, exit.
  int pipefd[2];
  pipe(pipefd);
  pid_t c = fork();
  if (c == 0) {
    int mine = open("file", O_RDONLY);
    dup2(mine, 20);
    write(pipefd[1], "r", 1);
    pause();
    _exit(3);
  }
  char ch;
  read(pipefd[0], &ch, 1);
  int child = (int)syscall(SYS_pidfd_open, c, 0);
  int cf = (int)SHOW(syscall(SYS_pidfd_getfd, child, 20, 0));
  char buf[8] = {0};
  SHOW(read(cf, buf, 3));
  printf("child's fd reads '%s'\n", buf);
  SHOW(syscall(SYS_pidfd_getfd, child, 21, 0));
  KCMP(getpid(), getpid(), KCMP_VM, 0, 0);
  KCMP(getpid(), c, KCMP_VM, 0, 0);
  KCMP(getpid(), c, KCMP_FILES, 0, 0);
  KCMP(getpid(), c, KCMP_FS, 0, 0);
  KCMP(getpid(), c, KCMP_SIGHAND, 0, 0);
  KCMP(getpid(), c, KCMP_FILE, f, f);
  KCMP(getpid(), c, KCMP_FILE, 0, 0);
  KCMP(getpid(), getpid(), KCMP_FILE, f, g);
  KCMP(getpid(), getpid(), KCMP_FILE, f, cf);
  KCMP(getpid(), getpid(), KCMP_FILE, f, 999);
  KCMP(getpid(), getpid(), KCMP_FILE, f, 1030);
  KCMP(getpid(), 999999, KCMP_VM, 0, 0);
  KCMP(getpid(), getpid(), 99, 0, 0);
  int ep = epoll_create1(0);
  struct epoll_event ev = {.events = EPOLLIN};
  epoll_ctl(ep, EPOLL_CTL_ADD, f, &ev);
  struct {
    unsigned efd, tfd, toff;
  } slot = {ep, f, 0};
  KCMP(getpid(), getpid(), KCMP_EPOLL_TFD, f, &slot);
  KCMP(getpid(), getpid(), KCMP_EPOLL_TFD, g, &slot);
  KCMP(getpid(), getpid(), KCMP_EPOLL_TFD, f, 8);
  KCMP(getpid(), getpid(), KCMP_EPOLL_TFD, 999, 8);
  slot.tfd = 999;
  KCMP(getpid(), getpid(), KCMP_EPOLL_TFD, f, &slot);
  slot.efd = 1030;
  KCMP(getpid(), getpid(), KCMP_EPOLL_TFD, f, &slot);

  SHOW(syscall(SYS_process_mrelease, child, 0));
  SHOW(syscall(SYS_process_mrelease, child, 1));
  SHOW(syscall(SYS_process_mrelease, 999, 0));
  // The child's exit is a POLLIN on its pidfd; waitid(P_PIDFD) reaps it.
  struct pollfd pfd = {.fd = child, .events = POLLIN};
  SHOW(poll(&pfd, 1, 0));
  SHOW(syscall(SYS_pidfd_send_signal, child, SIGTERM, NULL, 0));
  SHOW(poll(&pfd, 1, 5000));
  siginfo_t wi;
  memset(&wi, 0, sizeof wi);
  SHOW(waitid(P_PIDFD, child, &wi, WEXITED));
  printf("waitid: code %s status %d\n", wi.si_code == CLD_KILLED ? "CLD_KILLED" : "other",
         wi.si_status);
  SHOW(syscall(SYS_pidfd_send_signal, child, SIGTERM, NULL, 0));

  // Threads share the process's objects; a thread pidfd (PIDFD_THREAD).
  pthread_mutex_lock(&mu);
  pthread_t t;
  pthread_create(&t, NULL, thread_main, NULL);
  while (!__atomic_load_n(&thread_tid, __ATOMIC_SEQ_CST)) usleep(1000);
  KCMP(getpid(), thread_tid, KCMP_VM, 0, 0);
  KCMP(getpid(), thread_tid, KCMP_FILES, 0, 0);
  KCMP(getpid(), thread_tid, KCMP_SIGHAND, 0, 0);
  SHOW(syscall(SYS_pidfd_open, thread_tid, 0));
  int tfd = (int)SHOW(syscall(SYS_pidfd_open, thread_tid, O_EXCL));
  pthread_mutex_unlock(&mu);
  pthread_join(t, NULL);

  // process_madvise on one's own memory.
  char* m = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  munmap(m + 4096, 4096);
  memset(m, 'x', 4096);
  memset(m + 8192, 'y', 4096);
  struct iovec iov[3] = {{m, 4096}, {m + 4096, 4096}, {m + 8192, 4096}};
  SHOW(syscall(SYS_process_madvise, self, iov, 3, MADV_DONTNEED, 0));
  printf("after DONTNEED: %d %d\n", m[0], m[8192]);
  SHOW(syscall(SYS_process_madvise, self, iov + 1, 1, MADV_DONTNEED, 0));
  SHOW(syscall(SYS_process_madvise, self, iov, 1, MADV_COLD, 0));
  SHOW(syscall(SYS_process_madvise, self, iov, 1, 999, 0));
  SHOW(syscall(SYS_process_madvise, self, iov, 0, 999, 0));
  SHOW(syscall(SYS_process_madvise, self, iov, 1, MADV_COLD, 1));
  SHOW(syscall(SYS_process_madvise, self, (void*)8, 1, MADV_COLD, 0));
  SHOW(syscall(SYS_process_madvise, 999, (void*)8, 1, MADV_COLD, 0));
  SHOW(syscall(SYS_process_madvise, 999, iov, 1025, MADV_COLD, 0));
  SHOW(syscall(SYS_process_madvise, 999, iov, 1, MADV_COLD, 0));
  SHOW(syscall(SYS_process_madvise, f, iov, 1, MADV_COLD, 0));
  struct iovec negl[1] = {{m, (size_t)-1}};
  SHOW(syscall(SYS_process_madvise, self, negl, 1, MADV_COLD, 0));
  struct iovec high[1] = {{(void*)0x7ffffffff000, 0x2000}};
  SHOW(syscall(SYS_process_madvise, self, high, 1, MADV_COLD, 0));
  SHOW(syscall(SYS_process_madvise, -10000, iov, 1, MADV_COLD, 0));
  SHOW(syscall(SYS_process_madvise, tfd, iov, 1, MADV_COLD, 0));
  return 0;
}
