// rt_sigreturn with a frame whose CS or SS is not a user selector
// (arch/x86/kernel/signal_64.c restore_sigcontext: cs and ss get RPL 3;
// without UC_STRICT_RESTORE_SS a bad ss becomes __USER_DS; the IRET to a
// bad selector faults and the task gets SIGSEGV). Each case runs in a
// child; the parent prints how it ended. A child that goes on running
// after a bad frame prints ACCEPTED. Also a handler at a non-canonical
// address (gVisor SigIretTest.BadHandler): the child dies of SIGSEGV.
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ucontext.h>
#include <sys/wait.h>
#include <ucontext.h>
#include <unistd.h>

static int g_which;  // 0: cs, 1: ss
static uint16_t g_value;
static int g_strict = 1;

static void handler(int sig, siginfo_t* si, void* ctx) {
  (void)sig;
  (void)si;
  ucontext_t* uc = ctx;
  uint64_t csgsfs = (uint64_t)uc->uc_mcontext.gregs[REG_CSGSFS];
  if (g_which == 0)
    csgsfs = (csgsfs & ~0xffffull) | g_value;
  else
    csgsfs = (csgsfs & ~(0xffffull << 48)) | ((uint64_t)g_value << 48);
  uc->uc_mcontext.gregs[REG_CSGSFS] = (greg_t)csgsfs;
  if (!g_strict) uc->uc_flags &= ~0x4ul;  // UC_STRICT_RESTORE_SS
}

static void segv_handler(int sig, siginfo_t* si, void* ctx) {
  (void)ctx;
  printf("  SIGSEGV handler: signo %d code %d\n", sig, si->si_code);
  fflush(stdout);
  _exit(3);
}

static void report(const char* what, pid_t pid) {
  int st;
  if (waitpid(pid, &st, 0) != pid) {
    printf("%s: waitpid failed\n", what);
    return;
  }
  if (WIFSIGNALED(st))
    printf("%s: killed by signal %d\n", what, WTERMSIG(st));
  else
    printf("%s: exit %d\n", what, WEXITSTATUS(st));
  fflush(stdout);
}

static void one(int which, uint16_t value, int strict, int catch_segv) {
  char what[96];
  snprintf(what, sizeof what, "%s=0x%x%s%s", which ? "ss" : "cs", value,
           strict ? "" : " (no UC_STRICT_RESTORE_SS)", catch_segv ? " (SIGSEGV caught)" : "");
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    alarm(20);
    g_which = which, g_value = value, g_strict = strict;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = handler;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGUSR1, &sa, NULL);
    if (catch_segv) {
      sa.sa_sigaction = segv_handler;
      sigaction(SIGSEGV, &sa, NULL);
    }
    raise(SIGUSR1);
    int ok = (which == 0 && (value | 3) == 0x33) || (which == 1 && (value | 3) == 0x2b);
    printf("  %s: returned from the handler%s\n", what, ok || !strict ? "" : ": ACCEPTED");
    fflush(stdout);
    _exit(0);
  }
  report(what, pid);
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  one(0, 0x33, 1, 0);
  one(0, 0x30, 1, 0);  // RPL forced to 3: the user code selector
  one(0, 0, 1, 0);
  one(0, 0x10, 1, 0);
  one(0, 0x1234, 1, 0);
  one(0, 0x2b, 1, 0);
  one(0, 0x1234, 1, 1);
  one(1, 0x2b, 1, 0);
  one(1, 0x28, 1, 0);
  one(1, 0, 1, 0);
  one(1, 0x10, 1, 0);
  one(1, 0x1234, 1, 0);
  one(1, 0x1234, 0, 0);
  one(1, 0, 0, 0);
  one(1, 0x10, 1, 1);

  // A handler at a non-canonical address.
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    alarm(20);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = (void (*)(int, siginfo_t*, void*))0xCCCC000000000000ull;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGUSR1, &sa, NULL);
    for (;;) pause();
  }
  usleep(100000);
  kill(pid, SIGUSR1);
  report("non-canonical handler", pid);
  return 0;
}
