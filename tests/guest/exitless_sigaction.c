// rt_sigaction in the middle of bursts of cheap syscalls, so that under
// elfuse the thread's exitless worker is awake and serves it (docs/
// internals.md, "Syscalls without an exit"): queries of every signal,
// errors, handlers that then run, flags read back, and the case the worker
// must leave to the thread itself: SIG_IGN (or SIG_DFL for a signal ignored
// by default) discarding a pending blocked signal. Prints what it observes.
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "exitless_burst.h"

struct ksigaction {  // the kernel's struct sigaction (x86_64)
  unsigned long handler;
  unsigned long flags;
  unsigned long restorer;
  unsigned long mask;
};

static volatile sig_atomic_t hits[65];

static void on_sig(int sig) {
  hits[sig]++;
}

static void burst(void) {
  exitless_burst(20);
}

static long rt_sigaction(int sig, const struct ksigaction* act, struct ksigaction* old,
                         unsigned long size) {
  return syscall(SYS_rt_sigaction, sig, act, old, size);
}

static const char* err(long r) {
  if (r >= 0) return "ok";
  switch (errno) {
    case EINVAL:
      return "EINVAL";
    case EFAULT:
      return "EFAULT";
    default:
      return "other";
  }
}

static int pending(int sig) {
  sigset_t set;
  sigpending(&set);
  return sigismember(&set, sig);
}

int main(void) {
  for (int round = 0; round < 3; round++) {
    printf("round %d\n", round);
    // Every signal's disposition, as the program inherited it.
    burst();
    for (int sig = 1; sig <= 64; sig++) {
      struct ksigaction old;
      memset(&old, 0xa5, sizeof old);
      long r = rt_sigaction(sig, NULL, &old, 8);
      if (r != 0 || old.handler != (unsigned long)SIG_DFL)
        printf("  sig %d: %s handler %s\n", sig, err(r),
               old.handler == (unsigned long)SIG_IGN ? "SIG_IGN" : "other");
    }
    // Errors.
    burst();
    struct ksigaction old;
    printf("  sig 0: %s\n", err(rt_sigaction(0, NULL, &old, 8)));
    printf("  sig 65: %s\n", err(rt_sigaction(65, NULL, &old, 8)));
    printf("  size 4: %s\n", err(rt_sigaction(SIGUSR1, NULL, &old, 4)));
    printf("  bad old: %s\n", err(rt_sigaction(SIGUSR1, NULL, (void*)8, 8)));
    printf("  bad act: %s\n", err(rt_sigaction(SIGUSR1, (void*)8, NULL, 8)));
    struct ksigaction kill_act = {(unsigned long)SIG_IGN, 0, 0, 0};
    printf("  SIGKILL: %s\n", err(rt_sigaction(SIGKILL, &kill_act, NULL, 8)));

    // A handler set in a burst runs; its flags and mask read back as
    // the kernel keeps them (unknown flag bits dropped, SIGKILL not in
    // the mask).
    burst();
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sig;
    sa.sa_flags = SA_RESTART | 0x00000100;  // an unknown bit
    sigaddset(&sa.sa_mask, SIGKILL);
    sigaddset(&sa.sa_mask, SIGUSR2);
    printf("  set SIGUSR1: %d\n", sigaction(SIGUSR1, &sa, NULL));
    struct sigaction back;
    printf("  get SIGUSR1: %d\n", sigaction(SIGUSR1, NULL, &back));
    printf("  handler same %d, SA_RESTART %d, unknown bit %d, mask USR2 %d KILL %d\n",
           back.sa_handler == on_sig, !!(back.sa_flags & SA_RESTART),
           !!(back.sa_flags & 0x00000100), sigismember(&back.sa_mask, SIGUSR2),
           sigismember(&back.sa_mask, SIGKILL));
    burst();
    int before = hits[SIGUSR1];
    raise(SIGUSR1);
    printf("  SIGUSR1 handled %d\n", hits[SIGUSR1] - before);

    // SIG_IGN discards a pending blocked signal; a handler does not.
    sigset_t block, none;
    sigemptyset(&block);
    sigaddset(&block, SIGUSR2);
    sigaddset(&block, SIGCHLD);
    sigemptyset(&none);
    sa.sa_flags = 0;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR2, &sa, NULL);
    sigaction(SIGCHLD, &sa, NULL);
    sigprocmask(SIG_BLOCK, &block, NULL);
    raise(SIGUSR2);
    raise(SIGCHLD);
    burst();
    sigaction(SIGUSR2, &sa, NULL);  // a handler again: stays pending
    printf("  USR2 pending after handler: %d\n", pending(SIGUSR2));
    burst();
    struct sigaction ign;
    memset(&ign, 0, sizeof ign);
    ign.sa_handler = SIG_IGN;
    sigaction(SIGUSR2, &ign, NULL);
    printf("  USR2 pending after SIG_IGN: %d\n", pending(SIGUSR2));
    burst();
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigaction(SIGCHLD, &dfl, NULL);
    printf("  CHLD pending after SIG_DFL: %d\n", pending(SIGCHLD));
    burst();
    sigaction(SIGUSR2, &sa, NULL);
    sigaction(SIGCHLD, &sa, NULL);
    before = hits[SIGUSR2] + hits[SIGCHLD];
    sigprocmask(SIG_SETMASK, &none, NULL);
    printf("  delivered after unblock: %d\n", hits[SIGUSR2] + hits[SIGCHLD] - before);
    // A signal sent now reaches the handler set in a burst.
    burst();
    sigaction(SIGUSR2, &sa, NULL);
    before = hits[SIGUSR2];
    kill(getpid(), SIGUSR2);
    printf("  USR2 handled %d\n", hits[SIGUSR2] - before);

    // SIGPIPE ignored in a burst: a write to a pipe without readers fails
    // with EPIPE and the process lives.
    burst();
    sigaction(SIGPIPE, &ign, NULL);
    int p[2];
    if (pipe(p) == 0) {
      close(p[0]);
      long n = write(p[1], "x", 1);
      printf("  write to a closed pipe: %ld %s\n", n, n < 0 && errno == EPIPE ? "EPIPE" : "?");
      close(p[1]);
    }
    burst();
    sigaction(SIGPIPE, &dfl, NULL);
    sigaction(SIGUSR1, &dfl, NULL);
    sigaction(SIGUSR2, &dfl, NULL);
    sigaction(SIGCHLD, &dfl, NULL);
  }
  return 0;
}
