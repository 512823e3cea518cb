// SIGURG is an ordinary signal: sent by the process to itself (raise, kill,
// tgkill, sigqueue, rt_tgsigqueueinfo), to one of its threads (pthread_kill
// to a thread that spins in user code, the way Go's runtime preempts a
// goroutine; to a thread blocked in read), by a child (kill and tgkill to the
// parent, which waits in sigsuspend or sigwaitinfo) and by the kernel (TCP
// out-of-band data to the F_SETOWN owner). The handler runs with the kernel's
// siginfo; blocking, sigpending, sigwaitinfo, sigtimedwait, signalfd,
// SIG_IGN and the default action (ignore) behave as in Linux.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

static volatile sig_atomic_t count;
static volatile int got_signo, got_code, got_pid, got_uid, got_value, got_errno;
// The thread the handler ran on.
static pthread_t volatile got_thread;

static void on_urg(int sig, siginfo_t* si, void* uc) {
  (void)uc;
  got_signo = sig == si->si_signo ? sig : -sig;
  got_code = si->si_code;
  got_pid = si->si_pid;
  got_uid = (int)si->si_uid;
  got_value = si->si_value.sival_int;
  got_errno = si->si_errno;
  got_thread = pthread_self();
  // Last: another thread waits for the count, then reads the fields.
  __atomic_thread_fence(__ATOMIC_SEQ_CST);
  count++;
}

static const char* code_name(int code) {
  switch (code) {
    case SI_USER:
      return "SI_USER";
    case SI_TKILL:
      return "SI_TKILL";
    case SI_QUEUE:
      return "SI_QUEUE";
    case SI_KERNEL:
      return "SI_KERNEL";
    default: {
      static char buf[32];
      snprintf(buf, sizeof buf, "code %d", code);
      return buf;
    }
  }
}

// What the handler saw, with the pid compared to the expected sender.
static void report(const char* what, pid_t sender) {
  printf("%s: count=%d signo=%d %s pid_ok=%d uid_ok=%d\n", what, (int)count, got_signo,
         code_name(got_code), got_pid == sender, got_uid == (int)getuid());
  count = 0;
  got_code = got_pid = got_uid = got_value = -1;
}

static void catch_urg(int flags) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_urg;
  sa.sa_flags = SA_SIGINFO | flags;
  sigemptyset(&sa.sa_mask);
  OK(sigaction(SIGURG, &sa, NULL));
}

static void set_urg(void (*h)(int)) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = h;
  sigemptyset(&sa.sa_mask);
  OK(sigaction(SIGURG, &sa, NULL));
}

static void mask_urg(int how) {
  sigset_t s;
  sigemptyset(&s);
  sigaddset(&s, SIGURG);
  OK(sigprocmask(how, &s, NULL));
}

static int urg_pending(void) {
  sigset_t p;
  sigemptyset(&p);
  sigpending(&p);
  return sigismember(&p, SIGURG);
}

// ---------------------------------------------------------------- threads

static volatile int spin_stop, spinner_ready;

// Spins in user code without a syscall until the handler has run on it.
static void* spinner(void* arg) {
  (void)arg;
  spinner_ready = 1;
  unsigned long n = 0;
  while (count == 0) n++;
  spin_stop = 1;
  return (void*)n;
}

static int pipe_fds[2];
static volatile int reader_ready;
static pthread_t reader_thread;
static long reader_result;
static int reader_errno;

static void* reader(void* arg) {
  (void)arg;
  reader_ready = 1;
  char c;
  errno = 0;
  reader_result = read(pipe_fds[0], &c, 1);
  reader_errno = errno;
  return NULL;
}

static void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

// A thread blocked in read() gets the signal: with SA_RESTART the read goes
// on (and returns the byte written later), without it the read is EINTR.
static void blocked_reader(int restart) {
  catch_urg(restart ? SA_RESTART : 0);
  OK(pipe(pipe_fds));
  reader_ready = 0;
  pthread_t t;
  OK(-pthread_create(&t, NULL, reader, NULL));
  reader_thread = t;
  while (!reader_ready) sleep_ms(1);
  sleep_ms(50);  // in read() by now
  OK(-pthread_kill(t, SIGURG));
  while (count == 0) sleep_ms(1);
  printf("reader %s: handler on reader=%d\n", restart ? "SA_RESTART" : "no SA_RESTART",
         pthread_equal(got_thread, reader_thread));
  sleep_ms(20);
  OK(write(pipe_fds[1], "x", 1));
  OK(-pthread_join(t, NULL));
  printf("reader read=%ld %s\n", reader_result, errname(reader_result < 0 ? reader_errno : 0));
  report("reader", getpid());
  close(pipe_fds[0]);
  close(pipe_fds[1]);
}

static volatile int waiter_ready, waiter_signo, waiter_code, waiter_pid;

// Waits for SIGURG in sigwaitinfo while every thread blocks it.
static void* waiter(void* arg) {
  (void)arg;
  sigset_t urg;
  sigemptyset(&urg);
  sigaddset(&urg, SIGURG);
  siginfo_t si;
  memset(&si, 0, sizeof si);
  waiter_ready = 1;
  waiter_signo = sigwaitinfo(&urg, &si);
  waiter_code = si.si_code;
  waiter_pid = si.si_pid;
  return NULL;
}

static pid_t kill_parent_later(void) {
  pid_t child = fork();
  if (child == 0) {
    sleep_ms(50);
    kill(getppid(), SIGURG);
    _exit(0);
  }
  return child;
}

// A process-directed SIGURG goes to a thread that does not block it: one
// blocked in read() while the main thread blocks SIGURG, then one waiting in
// sigwaitinfo while every thread blocks it.
static void process_directed(void) {
  catch_urg(SA_RESTART);
  mask_urg(SIG_BLOCK);
  OK(pipe(pipe_fds));
  reader_ready = 0;
  pthread_t t;
  sigset_t none, old;
  sigemptyset(&none);
  pthread_sigmask(SIG_SETMASK, &none, &old);
  OK(-pthread_create(&t, NULL, reader, NULL));
  reader_thread = t;
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  while (!reader_ready) sleep_ms(1);
  pid_t child = kill_parent_later();
  while (count == 0) sleep_ms(1);
  printf("process-directed: handler on reader=%d\n", pthread_equal(got_thread, reader_thread));
  report("process-directed", child);
  waitpid(child, NULL, 0);
  OK(write(pipe_fds[1], "x", 1));
  OK(-pthread_join(t, NULL));
  printf("reader read=%ld\n", reader_result);
  close(pipe_fds[0]);
  close(pipe_fds[1]);

  waiter_ready = 0;
  OK(-pthread_create(&t, NULL, waiter, NULL));
  while (!waiter_ready) sleep_ms(1);
  child = kill_parent_later();
  OK(-pthread_join(t, NULL));
  printf("waiter: signo=%d %s pid_ok=%d count=%d pending=%d\n", waiter_signo,
         code_name(waiter_code), waiter_pid == child, (int)count, urg_pending());
  waitpid(child, NULL, 0);
  mask_urg(SIG_UNBLOCK);
}

// ---------------------------------------------------------------- main

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  pid_t self = getpid();
  catch_urg(0);

  // To itself.
  OK(raise(SIGURG));
  report("raise", self);
  OK(kill(self, SIGURG));
  report("kill", self);
  OK(syscall(SYS_tgkill, self, syscall(SYS_gettid), SIGURG));
  report("tgkill", self);
  OK(syscall(SYS_tkill, syscall(SYS_gettid), SIGURG));
  report("tkill", self);
  union sigval v = {.sival_int = 4242};
  OK(sigqueue(self, SIGURG, v));
  printf("sigqueue value=%d\n", got_value);
  report("sigqueue", self);
  // A siginfo the process makes up itself, SI_TKILL and all (allowed to the
  // calling thread): it arrives as it was sent.
  siginfo_t si;
  memset(&si, 0, sizeof si);
  si.si_signo = SIGURG;
  si.si_code = SI_TKILL;
  si.si_pid = self;
  si.si_uid = getuid();
  si.si_errno = 7;
  si.si_value.sival_int = 99;
  OK(syscall(SYS_rt_tgsigqueueinfo, self, syscall(SYS_gettid), SIGURG, &si));
  printf("rt_tgsigqueueinfo SI_TKILL: errno=%d value=%d\n", got_errno, got_value);
  report("rt_tgsigqueueinfo SI_TKILL", self);
  si.si_code = -77;
  si.si_pid = 12345;
  OK(syscall(SYS_rt_tgsigqueueinfo, self, syscall(SYS_gettid), SIGURG, &si));
  printf("rt_tgsigqueueinfo code -77: pid=%d\n", got_pid);
  report("rt_tgsigqueueinfo -77", 12345);

  // pidfd_send_signal without a siginfo: SI_USER to the process, SI_TKILL
  // to a thread pidfd (PIDFD_THREAD, O_EXCL) and with PIDFD_SIGNAL_THREAD.
  int pfd = (int)syscall(SYS_pidfd_open, self, 0);
  OK(pfd);
  OK(syscall(SYS_pidfd_send_signal, pfd, SIGURG, NULL, 0));
  report("pidfd_send_signal", self);
  OK(syscall(SYS_pidfd_send_signal, pfd, SIGURG, NULL, 1 /* PIDFD_SIGNAL_THREAD */));
  report("pidfd_send_signal PIDFD_SIGNAL_THREAD", self);
  close(pfd);
  pfd = (int)syscall(SYS_pidfd_open, syscall(SYS_gettid), O_EXCL /* PIDFD_THREAD */);
  if (pfd >= 0) {
    OK(syscall(SYS_pidfd_send_signal, pfd, SIGURG, NULL, 0));
    report("pidfd_send_signal thread pidfd", self);
    close(pfd);
  }

  // Blocked: pending, delivered once when unblocked.
  mask_urg(SIG_BLOCK);
  OK(raise(SIGURG));
  OK(kill(self, SIGURG));
  printf("blocked: count=%d pending=%d\n", (int)count, urg_pending());
  mask_urg(SIG_UNBLOCK);
  printf("unblocked: pending=%d\n", urg_pending());
  report("unblocked", self);

  // To a thread that spins in user code (Go's preemption).
  pthread_t t;
  OK(-pthread_create(&t, NULL, spinner, NULL));
  while (!spinner_ready) sleep_ms(1);
  sleep_ms(20);
  OK(-pthread_kill(t, SIGURG));
  void* spins;
  OK(-pthread_join(t, &spins));
  printf("spinner: handler on spinner=%d stopped=%d\n", pthread_equal(got_thread, t), spin_stop);
  report("spinner", self);

  blocked_reader(1);
  blocked_reader(0);
  process_directed();

  // A child sends SIGURG to the parent, which waits in sigsuspend.
  catch_urg(0);
  mask_urg(SIG_BLOCK);
  pid_t child = fork();
  if (child == 0) {
    sleep_ms(50);
    kill(getppid(), SIGURG);
    _exit(0);
  }
  sigset_t none;
  sigemptyset(&none);
  errno = 0;
  int r = sigsuspend(&none);
  printf("sigsuspend = %d %s\n", r, errname(errno));
  report("from child kill", child);
  waitpid(child, NULL, 0);
  // tgkill from the child to the parent's main thread.
  child = fork();
  if (child == 0) {
    sleep_ms(50);
    syscall(SYS_tgkill, getppid(), getppid(), SIGURG);
    _exit(0);
  }
  errno = 0;
  r = sigsuspend(&none);
  printf("sigsuspend = %d %s\n", r, errname(errno));
  report("from child tgkill", child);
  waitpid(child, NULL, 0);

  // sigwaitinfo: already pending, then waited for.
  OK(kill(self, SIGURG));
  sigset_t urg;
  sigemptyset(&urg);
  sigaddset(&urg, SIGURG);
  memset(&si, 0, sizeof si);
  r = sigwaitinfo(&urg, &si);
  printf("sigwaitinfo = %d %s pid_ok=%d count=%d\n", r, code_name(si.si_code), si.si_pid == self,
         (int)count);
  child = fork();
  if (child == 0) {
    sleep_ms(50);
    union sigval cv = {.sival_int = 77};
    sigqueue(getppid(), SIGURG, cv);
    _exit(0);
  }
  memset(&si, 0, sizeof si);
  r = sigwaitinfo(&urg, &si);
  printf("sigwaitinfo from child = %d %s pid_ok=%d value=%d count=%d\n", r, code_name(si.si_code),
         si.si_pid == child, si.si_value.sival_int, (int)count);
  waitpid(child, NULL, 0);
  struct timespec short_wait = {0, 20000000};
  errno = 0;
  r = sigtimedwait(&urg, &si, &short_wait);
  printf("sigtimedwait nothing = %d %s\n", r, errname(errno));
  OK(raise(SIGURG));
  memset(&si, 0, sizeof si);
  r = sigtimedwait(&urg, &si, &short_wait);
  printf("sigtimedwait raised = %d %s\n", r, code_name(si.si_code));

  // signalfd reads a blocked pending SIGURG.
  int sfd = signalfd(-1, &urg, SFD_NONBLOCK | SFD_CLOEXEC);
  OK(sfd);
  struct signalfd_siginfo ssi;
  errno = 0;
  long n = read(sfd, &ssi, sizeof ssi);
  printf("signalfd empty read = %ld %s\n", n, errname(n < 0 ? errno : 0));
  OK(raise(SIGURG));
  memset(&ssi, 0, sizeof ssi);
  n = read(sfd, &ssi, sizeof ssi);
  printf("signalfd read = %ld signo=%u %s pid_ok=%d pending after=%d\n", n, ssi.ssi_signo,
         code_name(ssi.ssi_code), ssi.ssi_pid == (uint32_t)self, urg_pending());
  close(sfd);
  mask_urg(SIG_UNBLOCK);
  printf("after signalfd: count=%d\n", (int)count);

  // TCP out-of-band data: SIGURG to the F_SETOWN owner, from the kernel.
  int ls = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t alen = sizeof a;
  OK(bind(ls, (struct sockaddr*)&a, sizeof a));
  OK(listen(ls, 1));
  OK(getsockname(ls, (struct sockaddr*)&a, &alen));
  int cs = socket(AF_INET, SOCK_STREAM, 0);
  OK(connect(cs, (struct sockaddr*)&a, sizeof a));
  int as = accept(ls, NULL, NULL);
  OK(as);
  OK(fcntl(as, F_SETOWN, self));
  SHOW(fcntl(as, F_GETOWN) == self);
  OK(send(cs, "!", 1, MSG_OOB));
  for (int i = 0; i < 1000 && count == 0; i++) sleep_ms(1);
  printf("oob: count=%d signo=%d %s\n", (int)count, got_signo, code_name(got_code));
  count = 0;
  close(as);
  close(cs);
  close(ls);

  // SIG_IGN discards; a blocked one stays pending even when ignored, and a
  // handler installed meanwhile runs when it is unblocked.
  set_urg(SIG_IGN);
  OK(raise(SIGURG));
  printf("SIG_IGN: pending=%d\n", urg_pending());
  mask_urg(SIG_BLOCK);
  OK(raise(SIGURG));
  printf("SIG_IGN blocked: pending=%d\n", urg_pending());
  catch_urg(0);
  mask_urg(SIG_UNBLOCK);
  report("ignored then caught", self);
  // Setting SIG_DFL discards a pending SIGURG (default: ignore).
  mask_urg(SIG_BLOCK);
  OK(raise(SIGURG));
  printf("blocked again: pending=%d\n", urg_pending());
  set_urg(SIG_DFL);
  printf("after SIG_DFL: pending=%d\n", urg_pending());
  mask_urg(SIG_UNBLOCK);
  // The default action ignores it: the program goes on.
  OK(raise(SIGURG));
  OK(kill(self, SIGURG));
  printf("still running, count=%d\n", (int)count);
  return 0;
}
