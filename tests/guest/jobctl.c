// Job control and SIGCHLD flags: a child stopped by SIGSTOP, SIGTSTP, SIGTTIN
// or SIGTTOU is seen by waitpid(WUNTRACED) and waitid(WSTOPPED), continued by
// SIGCONT and seen by WCONTINUED; the SIGCHLDs that tell the parent about it
// (CLD_STOPPED, CLD_CONTINUED, CLD_EXITED, CLD_KILLED), and none for stops and
// continues with SA_NOCLDSTOP; SA_NOCLDWAIT and SIGCHLD ignored reap children
// automatically (wait then fails with ECHILD). SIGCHLD stays blocked and is
// collected with sigtimedwait, so what arrives does not depend on timing.
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

static void noop(int sig) {
}

static sigset_t chld_set;

static const char* cld_name(int code) {
  switch (code) {
    case CLD_EXITED: return "CLD_EXITED";
    case CLD_KILLED: return "CLD_KILLED";
    case CLD_DUMPED: return "CLD_DUMPED";
    case CLD_STOPPED: return "CLD_STOPPED";
    case CLD_CONTINUED: return "CLD_CONTINUED";
  }
  return "?";
}

// Takes a SIGCHLD if one comes within `ms` and prints what it says.
static void take_sigchld(const char* when, pid_t child, int ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  siginfo_t si;
  memset(&si, 0, sizeof si);
  int r = sigtimedwait(&chld_set, &si, &ts);
  if (r < 0) {
    printf("  SIGCHLD %s: none (%s)\n", when, errname(errno));
    return;
  }
  const char* st = si.si_code == CLD_EXITED ? "" : strsignal(si.si_status);
  printf("  SIGCHLD %s: %s pid_ok=%d status=%d %s\n", when, cld_name(si.si_code),
         si.si_pid == child, si.si_status, si.si_code == CLD_EXITED ? "" : st);
}

static void show_status(const char* what, int st) {
  if (WIFEXITED(st))
    printf("  %s: exited %d\n", what, WEXITSTATUS(st));
  else if (WIFSIGNALED(st))
    printf("  %s: killed by %s\n", what, strsignal(WTERMSIG(st)));
  else if (WIFSTOPPED(st))
    printf("  %s: stopped by %s\n", what, strsignal(WSTOPSIG(st)));
  else if (WIFCONTINUED(st))
    printf("  %s: continued\n", what);
  else
    printf("  %s: ? %#x\n", what, st);
}

// A child that stops itself (or is stopped by the parent), then, once
// continued, writes a byte to the pipe and exits 7 when the parent closes the
// other pipe (so that the SIGCHLDs of the continue and the exit do not merge).
static void stop_cycle(int stopsig, int self_stop, int nocldstop) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = noop;
  sa.sa_flags = nocldstop ? SA_NOCLDSTOP : 0;
  sigaction(SIGCHLD, &sa, NULL);
  printf("%s by %s%s\n", self_stop ? "raise" : "kill", strsignal(stopsig),
         nocldstop ? " (SA_NOCLDSTOP)" : "");
  int fds[2], go[2];
  if (pipe(fds) < 0 || pipe(go) < 0) return;
  pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    close(go[1]);
    if (self_stop) {
      raise(stopsig);
    } else {
      for (;;) pause();  // the parent stops, continues and then kills it
    }
    if (write(fds[1], "c", 1) != 1) _exit(1);
    char c;
    while (read(go[0], &c, 1) > 0) {
    }
    _exit(7);
  }
  close(fds[1]);
  close(go[0]);
  if (!self_stop) kill(pid, stopsig);
  int st = 0;
  SHOW(waitpid(pid, &st, WUNTRACED) == pid);
  show_status("waitpid WUNTRACED", st);
  take_sigchld("after the stop", pid, nocldstop ? 100 : 5000);
  SHOW(waitpid(pid, &st, WNOHANG | WUNTRACED));  // reported once only
  siginfo_t si;
  memset(&si, 0, sizeof si);
  OK(kill(pid, SIGCONT));
  SHOW(waitpid(pid, &st, WCONTINUED) == pid);
  show_status("waitpid WCONTINUED", st);
  if (self_stop) {
    char c;
    SHOW(read(fds[0], &c, 1));
    take_sigchld("after the continue", pid, nocldstop ? 100 : 5000);
    close(go[1]);
    SHOW(waitpid(pid, &st, 0) == pid);
  } else {
    take_sigchld("after the continue", pid, nocldstop ? 100 : 5000);
    close(go[1]);
    kill(pid, SIGKILL);
    SHOW(waitid(P_PID, pid, &si, WEXITED) == 0);
    printf("  waitid: %s %s\n", cld_name(si.si_code), strsignal(si.si_status));
    st = 0;
  }
  if (self_stop) show_status("waitpid", st);
  take_sigchld("after the exit", pid, 5000);
  close(fds[0]);
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  sigemptyset(&chld_set);
  sigaddset(&chld_set, SIGCHLD);
  sigprocmask(SIG_BLOCK, &chld_set, NULL);

  stop_cycle(SIGSTOP, 1, 0);
  stop_cycle(SIGSTOP, 0, 0);
  stop_cycle(SIGTSTP, 0, 0);
  stop_cycle(SIGTTIN, 0, 0);
  stop_cycle(SIGTTOU, 0, 0);
  stop_cycle(SIGSTOP, 1, 1);
  stop_cycle(SIGTSTP, 0, 1);

  // waitid with WSTOPPED and WCONTINUED, and WNOWAIT leaving the state there.
  printf("waitid\n");
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = noop;
  OK(sigaction(SIGCHLD, &sa, NULL));
  int go[2];
  if (pipe(go) < 0) return 1;
  pid_t pid = fork();
  if (pid == 0) {
    close(go[1]);
    raise(SIGSTOP);
    char c;
    while (read(go[0], &c, 1) > 0) {
    }
    _exit(3);
  }
  close(go[0]);
  siginfo_t si;
  memset(&si, 0, sizeof si);
  OK(waitid(P_PID, pid, &si, WSTOPPED | WNOWAIT));
  printf("  WNOWAIT: %s %s pid_ok=%d\n", cld_name(si.si_code), strsignal(si.si_status),
         si.si_pid == pid);
  memset(&si, 0, sizeof si);
  OK(waitid(P_PID, pid, &si, WSTOPPED));
  printf("  WSTOPPED: %s %s\n", cld_name(si.si_code), strsignal(si.si_status));
  take_sigchld("after the stop", pid, 5000);
  kill(pid, SIGCONT);
  memset(&si, 0, sizeof si);
  OK(waitid(P_PID, pid, &si, WCONTINUED));
  printf("  WCONTINUED: %s %s\n", cld_name(si.si_code), strsignal(si.si_status));
  close(go[1]);
  memset(&si, 0, sizeof si);
  OK(waitid(P_PID, pid, &si, WEXITED));
  printf("  WEXITED: %s %d\n", cld_name(si.si_code), si.si_status);
  // The exit's SIGCHLD is dropped: the continue's is still pending (a
  // standard signal is not queued twice).
  take_sigchld("at the end", pid, 5000);
  take_sigchld("after that", pid, 0);

  // SA_NOCLDWAIT: children are reaped by the kernel; wait blocks until the
  // last one is gone and then fails with ECHILD.
  printf("SA_NOCLDWAIT\n");
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = SIG_DFL;
  sa.sa_flags = SA_NOCLDWAIT;
  OK(sigaction(SIGCHLD, &sa, NULL));
  for (int i = 0; i < 3; i++)
    if (fork() == 0) {
      usleep(20000 * i);
      _exit(i);
    }
  int st;
  SHOW(wait(&st));
  SHOW(waitpid(-1, &st, WNOHANG));

  // SIGCHLD ignored: the same.
  printf("SIGCHLD ignored\n");
  sa.sa_handler = SIG_IGN;
  sa.sa_flags = 0;
  OK(sigaction(SIGCHLD, &sa, NULL));
  for (int i = 0; i < 3; i++)
    if (fork() == 0) {
      usleep(20000 * i);
      _exit(i);
    }
  SHOW(wait(&st));
  memset(&si, 0, sizeof si);
  SHOW(waitid(P_ALL, 0, &si, WEXITED));

  // Back to the default: a child is a zombie until waited for.
  printf("SIGCHLD default\n");
  sa.sa_handler = SIG_DFL;
  OK(sigaction(SIGCHLD, &sa, NULL));
  pid = fork();
  if (pid == 0) _exit(4);
  SHOW(waitpid(pid, &st, 0) == pid);
  show_status("waitpid", st);
  return 0;
}
