// POSIX message queues through the raw syscalls (so that glibc and musl
// agree): create, attributes, send and receive in priority order, the
// errno of each bad argument, a timeout, and notification by signal
// (SIGEV_SIGNAL with si_code SI_MESGQ and the sigev_value) and by the C
// library's thread (SIGEV_THREAD, glibc only: musl's needs the same kernel
// path through a netlink socket and is checked too).
#include <fcntl.h>
#include <mqueue.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

static char name[64];

static long q_open(const char* n, int flags, int mode, struct mq_attr* attr) {
  return syscall(SYS_mq_open, n, flags, mode, attr);
}
static long q_send(int q, const char* m, size_t len, unsigned prio, const struct timespec* t) {
  return syscall(SYS_mq_timedsend, q, m, len, prio, t);
}
static long q_recv(int q, char* m, size_t len, unsigned* prio, const struct timespec* t) {
  return syscall(SYS_mq_timedreceive, q, m, len, prio, t);
}

static volatile int got_sig, got_code, got_value;
static void on_sig(int sig, siginfo_t* si, void* uc) {
  got_sig = sig;
  got_code = si->si_code;
  got_value = si->si_value.sival_int;
}

static volatile int alarms;
static void on_alarm(int sig) {
  alarms++;
}

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int thread_value;
static void on_thread(union sigval v) {
  pthread_mutex_lock(&mu);
  thread_value = v.sival_int;
  pthread_cond_signal(&cv);
  pthread_mutex_unlock(&mu);
}

int main(void) {
  // The name is the queue's in the host's namespace: make it unique.
  snprintf(name, sizeof name, "elfuse-mq-%d", (int)getpid());
  char* slash_name = malloc(strlen(name) + 2);
  sprintf(slash_name, "/%s", name);
  struct mq_attr attr = {.mq_maxmsg = 4, .mq_msgsize = 16};
  int q = (int)SHOW(q_open(name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600, &attr));
  SHOW(q_open(name, O_RDWR | O_CREAT | O_EXCL, 0600, &attr));
  SHOW(q_open("no-such-queue-elfuse", O_RDWR, 0, NULL));
  SHOW(q_open(name, O_RDWR, 0, (struct mq_attr*)8));
  SHOW(q_open((char*)8, O_RDWR, 0, NULL));
  struct mq_attr badattr = {.mq_maxmsg = 0, .mq_msgsize = 16};
  SHOW(q_open("elfuse-mq-bad", O_RDWR | O_CREAT, 0600, &badattr));
  SHOW(q_open("a/b", O_RDWR | O_CREAT, 0600, NULL));

  struct mq_attr got;
  memset(&got, 0xff, sizeof got);
  SHOW(syscall(SYS_mq_getsetattr, q, NULL, &got));
  printf("flags %ld maxmsg %ld msgsize %ld curmsgs %ld\n", got.mq_flags, got.mq_maxmsg,
         got.mq_msgsize, got.mq_curmsgs);
  SHOW(syscall(SYS_mq_getsetattr, q, NULL, (struct mq_attr*)8));
  SHOW(syscall(SYS_mq_getsetattr, q, (struct mq_attr*)8, NULL));
  SHOW(syscall(SYS_mq_getsetattr, 999, NULL, &got));
  SHOW(syscall(SYS_mq_getsetattr, 0, NULL, &got));
  struct mq_attr nb = {.mq_flags = O_NONBLOCK};
  SHOW(syscall(SYS_mq_getsetattr, q, &nb, (struct mq_attr*)8));
  SHOW(syscall(SYS_mq_getsetattr, q, NULL, &got));
  printf("flags now %lx\n", got.mq_flags);

  // Send three, receive in priority order.
  SHOW(q_send(q, "low", 3, 1, NULL));
  SHOW(q_send(q, "high", 4, 9, NULL));
  SHOW(q_send(q, "mid", 3, 5, NULL));
  SHOW(q_send(q, "toolong-toolong-x", 17, 0, NULL));
  SHOW(q_send(q, "x", 1, 32768, NULL));
  SHOW(q_send(q, (char*)8, 4, 0, NULL));
  SHOW(q_send(999, "x", 1, 0, NULL));
  SHOW(q_send(1030, "x", 1, 0, NULL));
  struct timespec badts = {0, 2000000000L};
  SHOW(q_send(q, "x", 1, 0, &badts));
  SHOW(q_send(q, "x", 1, 0, (struct timespec*)8));
  char buf[64];
  unsigned prio = 0;
  for (int i = 0; i < 3; i++) {
    memset(buf, 0, sizeof buf);
    long n = SHOW(q_recv(q, buf, sizeof buf, &prio, NULL));
    printf("  '%.*s' prio %u\n", (int)(n > 0 ? n : 0), buf, prio);
  }
  SHOW(q_recv(q, buf, sizeof buf, &prio, NULL));  // empty, O_NONBLOCK
  SHOW(q_recv(q, buf, 8, &prio, NULL));           // smaller than msgsize
  SHOW(q_recv(999, buf, sizeof buf, &prio, NULL));
  SHOW(q_recv(q, buf, sizeof buf, &prio, &badts));
  SHOW(q_recv(q, buf, sizeof buf, &prio, (struct timespec*)8));

  // A message received into a bad buffer is lost (EFAULT); a bad prio
  // pointer fails after the message was stored.
  SHOW(q_send(q, "lost", 4, 0, NULL));
  SHOW(q_recv(q, (char*)8, sizeof buf, &prio, NULL));
  SHOW(syscall(SYS_mq_getsetattr, q, NULL, &got));
  printf("curmsgs %ld\n", got.mq_curmsgs);
  SHOW(q_send(q, "kept", 4, 3, NULL));
  memset(buf, 0, sizeof buf);
  SHOW(q_recv(q, buf, sizeof buf, (unsigned*)8, NULL));
  printf("  '%s'\n", buf);
  // A receive buffer across two mappings.
  char* m = mmap(NULL, 12288, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  munmap(m + 8192, 4096);
  mprotect(m + 4096, 4096, PROT_READ | PROT_WRITE | PROT_EXEC);
  memcpy(m + 4090, "spanning", 8);
  SHOW(q_send(q, m + 4090, 8, 0, NULL));
  memset(m + 4090, 0, 8);
  SHOW(q_recv(q, m + 4088, 16, NULL, NULL));
  printf("  '%.8s'\n", m + 4088);
  // A message that ends in unmapped memory; a receive buffer that does,
  // for a message that fits before the end.
  SHOW(q_send(q, m + 8190, 8, 0, NULL));
  SHOW(q_send(q, "fits", 4, 0, NULL));
  SHOW(q_recv(q, m + 8186, 16, NULL, NULL));
  printf("  '%.4s'\n", m + 8186);

  // Blocking mode with a timeout in the past.
  nb.mq_flags = 0;
  SHOW(syscall(SYS_mq_getsetattr, q, &nb, NULL));
  struct timespec past = {1, 0};
  SHOW(q_recv(q, buf, sizeof buf, &prio, &past));
  for (int i = 0; i < 4; i++) q_send(q, "f", 1, 0, NULL);
  SHOW(q_send(q, "f", 1, 0, &past));
  for (int i = 0; i < 4; i++) q_recv(q, buf, sizeof buf, &prio, NULL);

  // A signal interrupts a blocking receive: EINTR without SA_RESTART; with
  // it the receive goes on (a child sends later).
  struct sigaction alrm = {.sa_handler = on_alarm};
  sigaction(SIGALRM, &alrm, NULL);
  // A repeating timer: one that fired before the call could not end it.
  struct itimerval it = {.it_interval = {0, 50000}, .it_value = {0, 50000}};
  struct itimerval off = {0};
  setitimer(ITIMER_REAL, &it, NULL);
  SHOW(q_recv(q, buf, sizeof buf, &prio, NULL));
  setitimer(ITIMER_REAL, &off, NULL);
  alrm.sa_flags = SA_RESTART;
  sigaction(SIGALRM, &alrm, NULL);
  alarms = 0;
  setitimer(ITIMER_REAL, &it, NULL);
  pid_t child = fork();
  if (child == 0) {
    usleep(300000);
    q_send(q, "late", 4, 0, NULL);
    _exit(0);
  }
  SHOW(q_recv(q, buf, sizeof buf, &prio, NULL));
  setitimer(ITIMER_REAL, &off, NULL);
  printf("interrupted and restarted: %s\n", alarms >= 1 ? "yes" : "no");
  waitpid(child, NULL, 0);

  // Notification by signal.
  struct sigaction sa = {.sa_sigaction = on_sig, .sa_flags = SA_SIGINFO};
  sigaction(SIGUSR1, &sa, NULL);
  struct sigevent ev;
  memset(&ev, 0, sizeof ev);
  ev.sigev_notify = SIGEV_SIGNAL;
  ev.sigev_signo = SIGUSR1;
  ev.sigev_value.sival_int = 4242;
  SHOW(syscall(SYS_mq_notify, q, &ev));
  SHOW(syscall(SYS_mq_notify, q, &ev));  // already registered: EBUSY
  SHOW(q_send(q, "ping", 4, 0, NULL));
  for (int i = 0; i < 1000 && !got_sig; i++) usleep(1000);
  printf("signal %d code %s value %d\n", got_sig, got_code == SI_MESGQ ? "SI_MESGQ" : "other",
         got_value);
  SHOW(q_recv(q, buf, sizeof buf, &prio, NULL));
  // Registration ends with the notification; unregistering twice is fine.
  SHOW(syscall(SYS_mq_notify, q, NULL));
  ev.sigev_signo = 65;
  SHOW(syscall(SYS_mq_notify, q, &ev));
  ev.sigev_notify = 77;
  SHOW(syscall(SYS_mq_notify, q, &ev));
  SHOW(syscall(SYS_mq_notify, q, (struct sigevent*)8));
  ev.sigev_notify = SIGEV_THREAD;
  ev.sigev_signo = 0;  // not a netlink socket
  char cookie[32] = {0};
  ev.sigev_value.sival_ptr = cookie;
  SHOW(syscall(SYS_mq_notify, q, &ev));
  ev.sigev_value.sival_ptr = (void*)8;
  SHOW(syscall(SYS_mq_notify, q, &ev));
  ev.sigev_notify = SIGEV_NONE;
  SHOW(syscall(SYS_mq_notify, 999, &ev));
  SHOW(syscall(SYS_mq_notify, q, &ev));
  SHOW(syscall(SYS_mq_notify, q, NULL));

  // Notification by thread, through the C library (mq_notify(3)).
  mqd_t lq = mq_open(slash_name, O_RDWR);
  printf("library open %s\n", lq == (mqd_t)-1 ? errname(errno) : "ok");
  memset(&ev, 0, sizeof ev);
  ev.sigev_notify = SIGEV_THREAD;
  ev.sigev_notify_function = on_thread;
  ev.sigev_value.sival_int = 777;
  OK(mq_notify(lq, &ev));
  OK(mq_send(lq, "t", 1, 0));
  pthread_mutex_lock(&mu);
  struct timespec deadline;
  clock_gettime(CLOCK_REALTIME, &deadline);
  deadline.tv_sec += 10;
  while (!thread_value && pthread_cond_timedwait(&cv, &mu, &deadline) == 0) {
  }
  pthread_mutex_unlock(&mu);
  printf("thread value %d\n", thread_value);
  mq_close(lq);

  SHOW(syscall(SYS_mq_unlink, name));
  SHOW(syscall(SYS_mq_unlink, name));
  SHOW(syscall(SYS_mq_unlink, (char*)8));
  return 0;
}
