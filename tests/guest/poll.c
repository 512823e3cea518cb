// I/O multiplexing on pipes: poll, ppoll, select, pselect6. Zero and short
// timeouts, readiness of a pipe with data, POLLHUP once the writer is gone,
// POLLNVAL for a closed fd, and the kernel's argument errors (EFAULT, EINVAL,
// EBADF). The timeout write-back of ppoll/select/pselect6 is a property of
// the syscall, not of the libc wrappers (musl copies the timeout first), so
// those checks use raw syscalls.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

static void print_revents(const char* what, short r) {
  printf("%s revents:", what);
  if (!r) printf(" 0");
  if (r & POLLIN) printf(" POLLIN");
  if (r & POLLOUT) printf(" POLLOUT");
  if (r & POLLHUP) printf(" POLLHUP");
  if (r & POLLERR) printf(" POLLERR");
  if (r & POLLNVAL) printf(" POLLNVAL");
  printf("\n");
}

// The kernel's struct for pselect6's last argument.
struct sigset_argpack {
  const void* p;
  size_t size;
};

int main(void) {
  int p[2];
  OK(pipe(p));

  // --- poll
  struct pollfd fds[2] = {{p[0], POLLIN, 0}, {p[1], POLLOUT, 0}};
  SHOW(poll(fds, 1, 0));  // empty pipe: nothing ready, at once
  print_revents("empty read end", fds[0].revents);
  SHOW(poll(fds, 1, 20));  // a short timeout expires
  SHOW(poll(fds, 2, 0));   // the write end is writable
  print_revents("read end", fds[0].revents);
  print_revents("write end", fds[1].revents);
  OK(write(p[1], "x", 1));
  SHOW(poll(fds, 2, -1));  // both ready: no wait even with an infinite timeout
  print_revents("read end with data", fds[0].revents);
  // A negative fd is ignored; a closed one reports POLLNVAL and counts.
  struct pollfd odd[3] = {{-1, POLLIN, 77}, {p[0], POLLIN, 0}, {500, POLLIN, 0}};
  SHOW(poll(odd, 3, 1000));
  print_revents("fd -1", odd[0].revents);
  print_revents("pipe", odd[1].revents);
  print_revents("closed fd 500", odd[2].revents);
  CHECK(odd[0].fd == -1 && odd[2].fd == 500 && odd[2].events == POLLIN);
  // Argument errors.
  SHOW(syscall(SYS_poll, (void*)8, 1, 0));                // unreadable array
  SHOW(syscall(SYS_poll, NULL, 0, 0));                    // nothing to wait for
  struct rlimit rl;
  OK(getrlimit(RLIMIT_NOFILE, &rl));
  SHOW(syscall(SYS_poll, fds, (unsigned long)rl.rlim_cur + 1, 0));  // EINVAL

  // --- ppoll: the remaining time is written back (not for a zero timeout).
  struct timespec ts = {0, 0};
  SHOW(syscall(SYS_ppoll, fds, 1, &ts, NULL, 8));  // data still there
  print_revents("ppoll read end", fds[0].revents);
  ts.tv_sec = 5;
  ts.tv_nsec = 0;
  SHOW(syscall(SYS_ppoll, fds, 1, &ts, NULL, 8));
  CHECK(ts.tv_sec == 4 && ts.tv_nsec > 0);  // returned at once: almost 5 s left
  char c;
  OK(read(p[0], &c, 1));
  ts.tv_sec = 0;
  ts.tv_nsec = 20 * 1000 * 1000;
  SHOW(syscall(SYS_ppoll, fds, 1, &ts, NULL, 8));  // times out
  printf("ppoll after timeout: %ld %ld\n", (long)ts.tv_sec, ts.tv_nsec);
  ts.tv_sec = 0;
  ts.tv_nsec = 0;
  SHOW(syscall(SYS_ppoll, fds, 1, &ts, NULL, 8));
  printf("ppoll zero timeout stays: %ld %ld\n", (long)ts.tv_sec, ts.tv_nsec);
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGUSR1);
  ts.tv_nsec = 1000;
  SHOW(syscall(SYS_ppoll, fds, 1, &ts, &mask, 8));  // with a mask
  SHOW(syscall(SYS_ppoll, fds, 1, &ts, &mask, 7));  // EINVAL: sigsetsize
  SHOW(syscall(SYS_ppoll, fds, 1, &ts, (void*)8, 8));  // EFAULT: mask
  SHOW(syscall(SYS_ppoll, fds, 1, (void*)8, NULL, 8));  // EFAULT: timeout
  struct timespec bad = {0, 1000000000};
  SHOW(syscall(SYS_ppoll, fds, 1, &bad, NULL, 8));  // EINVAL: tv_nsec
  bad.tv_sec = -1;
  bad.tv_nsec = 0;
  SHOW(syscall(SYS_ppoll, fds, 1, &bad, NULL, 8));  // EINVAL: negative
  // The timeout is checked before the array.
  SHOW(syscall(SYS_ppoll, (void*)8, 1, &bad, NULL, 8));
  SHOW(ppoll(fds, 1, &(struct timespec){0, 0}, NULL));  // libc wrapper

  // --- select
  fd_set rd, wr;
  FD_ZERO(&rd);
  FD_SET(p[0], &rd);
  struct timeval tv = {0, 0};
  SHOW(syscall(SYS_select, p[0] + 1, &rd, NULL, NULL, &tv));  // empty pipe
  CHECK(!FD_ISSET(p[0], &rd));
  printf("select zero timeout stays: %ld %ld\n", (long)tv.tv_sec, (long)tv.tv_usec);
  OK(write(p[1], "yz", 2));
  FD_ZERO(&rd);
  FD_SET(p[0], &rd);
  FD_ZERO(&wr);
  FD_SET(p[1], &wr);
  tv.tv_sec = 5;
  SHOW(syscall(SYS_select, p[1] + 1, &rd, &wr, NULL, &tv));
  CHECK(FD_ISSET(p[0], &rd) && FD_ISSET(p[1], &wr));
  CHECK(tv.tv_sec == 4 && tv.tv_usec > 0);
  char two[2];
  OK(read(p[0], two, 2));
  FD_ZERO(&rd);
  FD_SET(p[0], &rd);
  tv.tv_sec = 0;
  tv.tv_usec = 20000;
  SHOW(syscall(SYS_select, p[0] + 1, &rd, NULL, NULL, &tv));  // times out
  printf("select after timeout: %ld %ld, set %d\n", (long)tv.tv_sec, (long)tv.tv_usec,
         FD_ISSET(p[0], &rd));
  tv.tv_usec = 1500000;  // more than a second of microseconds is fine
  FD_ZERO(&wr);
  FD_SET(p[1], &wr);
  SHOW(syscall(SYS_select, p[1] + 1, NULL, &wr, NULL, &tv));
  tv.tv_sec = 0;
  tv.tv_usec = -1;
  SHOW(syscall(SYS_select, p[1] + 1, NULL, &wr, NULL, &tv));  // EINVAL
  tv.tv_usec = 0;
  SHOW(syscall(SYS_select, -1, NULL, NULL, NULL, &tv));        // EINVAL
  SHOW(syscall(SYS_select, p[1] + 1, (void*)8, NULL, NULL, &tv));  // EFAULT
  FD_ZERO(&rd);
  FD_SET(100, &rd);
  SHOW(syscall(SYS_select, 101, &rd, NULL, NULL, &tv));  // EBADF: fd 100 is closed
  SHOW(syscall(SYS_select, 0, NULL, NULL, NULL, &tv));   // nothing, no time
  FD_ZERO(&wr);
  FD_SET(p[1], &wr);
  SHOW(select(p[1] + 1, NULL, &wr, NULL, &(struct timeval){0, 0}));  // libc wrapper

  // --- pselect6
  struct sigset_argpack pack = {&mask, 8};
  FD_ZERO(&rd);
  FD_SET(p[0], &rd);
  ts.tv_sec = 0;
  ts.tv_nsec = 20 * 1000 * 1000;
  SHOW(syscall(SYS_pselect6, p[0] + 1, &rd, NULL, NULL, &ts, &pack));  // times out
  printf("pselect6 after timeout: %ld %ld\n", (long)ts.tv_sec, ts.tv_nsec);
  FD_ZERO(&wr);
  FD_SET(p[1], &wr);
  ts.tv_sec = 5;
  SHOW(syscall(SYS_pselect6, p[1] + 1, NULL, &wr, NULL, &ts, NULL));
  CHECK(ts.tv_sec == 4 && ts.tv_nsec > 0);
  pack.size = 7;
  SHOW(syscall(SYS_pselect6, p[1] + 1, NULL, &wr, NULL, &ts, &pack));  // EINVAL
  pack.size = 8;
  pack.p = (void*)8;
  SHOW(syscall(SYS_pselect6, p[1] + 1, NULL, &wr, NULL, &ts, &pack));  // EFAULT: mask
  SHOW(syscall(SYS_pselect6, p[1] + 1, NULL, &wr, NULL, &ts, (void*)8));  // EFAULT: pack
  pack.p = NULL;
  pack.size = 12345;  // no mask: the size is not looked at
  SHOW(syscall(SYS_pselect6, p[1] + 1, NULL, &wr, NULL, &ts, &pack));
  bad.tv_sec = 0;
  bad.tv_nsec = -5;
  SHOW(syscall(SYS_pselect6, p[1] + 1, NULL, &wr, NULL, &bad, NULL));  // EINVAL
  SHOW(pselect(p[1] + 1, NULL, &wr, NULL, &(struct timespec){0, 0}, &mask));

  // --- the writer goes away: POLLHUP, and select reports the read end ready.
  OK(close(p[1]));
  fds[0].events = POLLIN;
  SHOW(poll(fds, 1, 1000));
  print_revents("read end, writer closed", fds[0].revents);
  FD_ZERO(&rd);
  FD_SET(p[0], &rd);
  SHOW(select(p[0] + 1, &rd, NULL, NULL, NULL));
  CHECK(FD_ISSET(p[0], &rd));
  SHOW(read(p[0], &c, 1));  // end of file
  OK(close(p[0]));
  return 0;
}
