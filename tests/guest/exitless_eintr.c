// Blocking calls that elfuse hands to its exitless worker (read on a pipe,
// open of a FIFO, write to a full pipe) interrupted by a signal: EINTR after
// a handler without SA_RESTART, a restart after one with it, the right
// result when the signal comes after the data, SIGPIPE and EPIPE on a
// broken pipe, and a signal that is blocked during the call. Each call is
// preceded by cheap ones so the worker is awake when it comes.
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"
#include "own_dir.h"

static int pipe_w = -1;
static volatile sig_atomic_t handled;

static void on_alarm(int sig) {
  (void)sig;
  handled++;
  // The handler makes the pipe readable: a restarted read then returns it.
  if (pipe_w >= 0) (void)!write(pipe_w, "x", 1);
}

static void on_pipe(int sig) {
  (void)sig;
  handled++;
}

static void warm(int fd) {
  struct stat st;
  char c;
  for (int i = 0; i < 50; i++) {
    fstat(fd, &st);
    (void)!pread(fd, &c, 0, 0);
  }
}

static void arm(long usec) {
  struct itimerval it = {{0, 0}, {usec / 1000000, usec % 1000000}};
  setitimer(ITIMER_REAL, &it, NULL);
}

static void handler(int sig, void (*fn)(int), int flags) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = fn;
  sa.sa_flags = flags;
  sigemptyset(&sa.sa_mask);
  sigaction(sig, &sa, NULL);
}

static void read_interrupted(int restart) {
  int p[2];
  if (pipe(p) < 0) return;
  pipe_w = restart ? p[1] : -1;
  handler(SIGALRM, on_alarm, restart ? SA_RESTART : 0);
  handled = 0;
  warm(p[0]);
  arm(100000);
  char buf[8] = {0};
  errno = 0;
  long r = read(p[0], buf, sizeof buf);
  printf("read, %s: %ld %s, data '%s', handler ran %d\n", restart ? "SA_RESTART" : "no SA_RESTART",
         r, r < 0 ? errname(errno) : "", r > 0 ? buf : "", (int)handled);
  pipe_w = -1;
  close(p[0]);
  close(p[1]);
}

// The data comes first, the signal later: the read returns the data.
static void read_then_signal(void) {
  int p[2];
  if (pipe(p) < 0) return;
  handler(SIGALRM, on_alarm, 0);
  handled = 0;
  pid_t child = fork();
  if (child == 0) {
    usleep(50000);
    (void)!write(p[1], "data", 4);
    _exit(0);
  }
  warm(p[0]);
  char buf[8] = {0};
  long r = read(p[0], buf, sizeof buf);
  printf("read before any signal: %ld '%s'\n", r, r > 0 ? buf : "");
  waitpid(child, NULL, 0);
  close(p[0]);
  close(p[1]);
}

static void fifo_open_interrupted(void) {
  const char* path = "exitless_fifo";
  unlink(path);
  if (mkfifo(path, 0600) < 0) {
    printf("mkfifo: %s\n", errname(errno));
    return;
  }
  handler(SIGALRM, on_alarm, 0);
  handled = 0;
  warm(0);
  arm(100000);
  errno = 0;
  int fd = open(path, O_RDONLY);  // no writer: blocks
  printf("open fifo: %d %s, handler ran %d\n", fd < 0 ? -1 : 0, fd < 0 ? errname(errno) : "",
         (int)handled);
  if (fd >= 0) close(fd);
  unlink(path);
}

// A full pipe: the write blocks until the signal; some bytes may have gone
// in before (a short count), none after the interruption.
static void write_interrupted(void) {
  int p[2];
  if (pipe(p) < 0) return;
  fcntl(p[1], F_SETFL, O_NONBLOCK);
  char block[4096];
  memset(block, 'z', sizeof block);
  long filled = 0, r;
  while ((r = write(p[1], block, sizeof block)) > 0) filled += r;
  fcntl(p[1], F_SETFL, 0);
  handler(SIGALRM, on_alarm, 0);
  handled = 0;
  warm(p[1]);
  arm(100000);
  errno = 0;
  r = write(p[1], block, sizeof block);
  printf("write to a full pipe: %ld %s, handler ran %d\n", r, r < 0 ? errname(errno) : "",
         (int)handled);
  close(p[0]);
  close(p[1]);
}

static void broken_pipe(void) {
  int p[2];
  if (pipe(p) < 0) return;
  close(p[0]);
  handler(SIGPIPE, on_pipe, 0);
  handled = 0;
  warm(p[1]);
  errno = 0;
  long r = write(p[1], "x", 1);
  printf("write to a broken pipe: %ld %s, SIGPIPE handled %d\n", r, r < 0 ? errname(errno) : "",
         (int)handled);
  // Default action: the process dies by SIGPIPE.
  pid_t child = fork();
  if (child == 0) {
    signal(SIGPIPE, SIG_DFL);
    warm(p[1]);
    (void)!write(p[1], "x", 1);
    _exit(0);
  }
  int status = 0;
  waitpid(child, &status, 0);
  printf("child writing to a broken pipe: %s %d\n", WIFSIGNALED(status) ? "killed by" : "exit",
         WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
  close(p[1]);
}

// Blocked during the read: the signal waits; the read completes with the
// data a child writes later, then the handler runs.
static void blocked_signal(void) {
  int p[2];
  if (pipe(p) < 0) return;
  handler(SIGALRM, on_alarm, 0);
  handled = 0;
  sigset_t set, old;
  sigemptyset(&set);
  sigaddset(&set, SIGALRM);
  sigprocmask(SIG_BLOCK, &set, &old);
  pid_t child = fork();
  if (child == 0) {
    usleep(200000);
    (void)!write(p[1], "late", 4);
    _exit(0);
  }
  warm(p[0]);
  arm(50000);
  char buf[8] = {0};
  long r = read(p[0], buf, sizeof buf);
  printf("read with SIGALRM blocked: %ld '%s', handler ran %d\n", r, r > 0 ? buf : "",
         (int)handled);
  sigprocmask(SIG_SETMASK, &old, NULL);
  printf("after unblocking, handler ran %d\n", (int)handled);
  waitpid(child, NULL, 0);
  close(p[0]);
  close(p[1]);
}

int main(void) {
  own_dir_enter();
  setvbuf(stdout, NULL, _IONBF, 0);
  read_interrupted(0);
  read_interrupted(1);
  read_then_signal();
  fifo_open_interrupted();
  write_interrupted();
  broken_pipe();
  blocked_signal();
  return 0;
}
