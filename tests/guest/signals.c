// Signal dispositions, masks, delivery of raised signals, SIGPIPE ignored.
#include <signal.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common.h"

static volatile sig_atomic_t usr1_count, usr2_count;
static volatile int info_signo, info_code, info_pid_ok;

static void on_usr1(int sig) {
  usr1_count++;
}
static void on_usr2(int sig) {
  usr2_count++;
}
static void on_info(int sig, siginfo_t* si, void* uc) {
  info_signo = si->si_signo;
  info_code = si->si_code;
  info_pid_ok = si->si_pid == getpid();
}

int main(void) {
  struct sigaction sa, old;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_usr1;
  sa.sa_flags = SA_RESTART;
  sigemptyset(&sa.sa_mask);
  sigaddset(&sa.sa_mask, SIGUSR2);
  OK(sigaction(SIGUSR1, &sa, NULL));
  memset(&old, 0, sizeof old);
  OK(sigaction(SIGUSR1, NULL, &old));
  CHECK(old.sa_handler == on_usr1);
  CHECK(old.sa_flags & SA_RESTART);
  CHECK(sigismember(&old.sa_mask, SIGUSR2) == 1);
  CHECK(sigismember(&old.sa_mask, SIGINT) == 0);
  OK(raise(SIGUSR1));
  OK(raise(SIGUSR1));
  printf("SIGUSR1 handled %d times\n", (int)usr1_count);

  // SA_SIGINFO: what the handler is told.
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_info;
  sa.sa_flags = SA_SIGINFO;
  OK(sigaction(SIGWINCH, &sa, NULL));
  OK(kill(getpid(), SIGWINCH));
  printf("SA_SIGINFO after kill: signo=%d code=%d pid_ok=%d\n", info_signo, info_code, info_pid_ok);
  OK(syscall(SYS_tgkill, getpid(), syscall(SYS_gettid), SIGWINCH));
  printf("SA_SIGINFO after tgkill: signo=%d code=%d pid_ok=%d\n", info_signo, info_code,
         info_pid_ok);

  // Defaults and errors.
  OK(sigaction(SIGTERM, NULL, &old));
  CHECK(old.sa_handler == SIG_DFL);
  SHOW(sigaction(SIGKILL, &sa, NULL));
  SHOW(sigaction(SIGSTOP, &sa, NULL));
  OK(sigaction(SIGKILL, NULL, &old));
  SHOW(syscall(SYS_rt_sigaction, 0, NULL, &old, 8));
  SHOW(syscall(SYS_rt_sigaction, 65, NULL, &old, 8));
  SHOW(syscall(SYS_rt_sigaction, SIGUSR1, NULL, &old, 4));
  SHOW(syscall(SYS_rt_sigaction, SIGUSR1, NULL, (void*)1, 8));
  SHOW(kill(getpid(), 0));
  SHOW(kill(getpid(), 12345));

  // Masks: block, raise (stays pending), unblock (delivered).
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_usr2;
  OK(sigaction(SIGUSR2, &sa, NULL));
  sigset_t set, cur, pend;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR2);
  OK(sigprocmask(SIG_BLOCK, &set, NULL));
  OK(sigprocmask(SIG_SETMASK, NULL, &cur));
  CHECK(sigismember(&cur, SIGUSR2) == 1);
  CHECK(sigismember(&cur, SIGUSR1) == 0);
  OK(raise(SIGUSR2));
  printf("SIGUSR2 handled %d times while blocked\n", (int)usr2_count);
  OK(sigpending(&pend));
  CHECK(sigismember(&pend, SIGUSR2) == 1);
  OK(sigprocmask(SIG_UNBLOCK, &set, NULL));
  printf("SIGUSR2 handled %d times after unblocking\n", (int)usr2_count);
  OK(sigpending(&pend));
  CHECK(sigismember(&pend, SIGUSR2) == 0);
  OK(sigprocmask(SIG_SETMASK, NULL, &cur));
  CHECK(sigismember(&cur, SIGUSR2) == 0);
  // SIGKILL and SIGSTOP cannot be blocked: the kernel drops them from the mask.
  sigfillset(&set);
  OK(sigprocmask(SIG_SETMASK, &set, NULL));
  OK(sigprocmask(SIG_SETMASK, NULL, &cur));
  CHECK(sigismember(&cur, SIGKILL) == 0 && sigismember(&cur, SIGSTOP) == 0);
  CHECK(sigismember(&cur, SIGTERM) == 1);
  sigemptyset(&set);
  OK(sigprocmask(SIG_SETMASK, &set, NULL));
  SHOW(syscall(SYS_rt_sigprocmask, 12345, &set, NULL, 8));
  SHOW(syscall(SYS_rt_sigprocmask, SIG_BLOCK, &set, NULL, 4));

  // SIG_IGN of SIGPIPE: a write to a pipe without readers is EPIPE.
  signal(SIGPIPE, SIG_IGN);
  int p[2];
  OK(pipe(p));
  OK(close(p[0]));
  SHOW(write(p[1], "x", 1));
  OK(close(p[1]));

  // An ignored signal is discarded, even when raised.
  signal(SIGUSR1, SIG_IGN);
  OK(raise(SIGUSR1));
  printf("SIGUSR1 handled %d times in all\n", (int)usr1_count);

  // SIGCHLD default is ignore: raising it does nothing.
  OK(raise(SIGCHLD));
  OK(raise(SIGWINCH));
  printf("done\n");
  return 0;
}
