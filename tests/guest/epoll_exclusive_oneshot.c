// epoll beyond tests/guest/events.c: EPOLLEXCLUSIVE (its argument rules and
// that one event wakes exactly one of several exclusive waiters, where
// non-exclusive waiters all wake), EPOLLONESHOT re-arming, and the life of
// a registration whose fd is closed while a dup of the file stays open
// (in this process or in a child): it lives on, keyed by the old fd
// number, until the last reference goes. Compared with native.
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"

static int ready(int ep, struct epoll_event* out, int max) {
  return epoll_wait(ep, out, max, 0);
}

// Waits until process pid sleeps in a kernel function whose name contains
// `fn` (its /proc/PID/wchan), at most 5 s.
static void wait_in(pid_t pid, const char* fn) {
  char path[64], buf[128];
  snprintf(path, sizeof path, "/proc/%d/wchan", pid);
  for (int i = 0; i < 2500; i++) {
    int fd = open(path, O_RDONLY);
    ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : 0;
    if (fd >= 0) close(fd);
    buf[n > 0 ? n : 0] = 0;
    if (strstr(buf, fn)) return;
    usleep(2000);
  }
}

// Three children, each with its own epoll instance holding the same
// eventfd (exclusive or not), block in epoll_wait; one write; how many
// woke within 200 ms.
static void wakeups(uint32_t extra) {
  int efd = eventfd(0, 0);
  int res[2];
  if (pipe2(res, O_NONBLOCK) != 0) exit(1);
  pid_t kids[3];
  for (int i = 0; i < 3; i++) {
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN | extra};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, efd, &ev) != 0) exit(2);
    kids[i] = fork();
    if (kids[i] == 0) {
      struct epoll_event out;
      if (epoll_wait(ep, &out, 1, -1) == 1 && write(res[1], "w", 1) != 1) _exit(3);
      _exit(0);
    }
    close(ep);
  }
  for (int i = 0; i < 3; i++) wait_in(kids[i], "epoll_wait");
  uint64_t one = 1;
  if (write(efd, &one, 8) != 8) exit(4);
  usleep(200000);
  char buf[8];
  ssize_t n = read(res[0], buf, sizeof buf);
  printf("%s: %zd of 3 woke\n", extra ? "exclusive" : "plain", n < 0 ? 0 : n);
  for (int i = 0; i < 3; i++) kill(kids[i], SIGKILL);
  for (int i = 0; i < 3; i++) waitpid(kids[i], NULL, 0);
  close(efd);
  close(res[0]);
  close(res[1]);
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  int p[2];
  if (pipe(p) < 0) return 1;
  int ep = epoll_create1(0);
  struct epoll_event ev = {.events = EPOLLIN | EPOLLEXCLUSIVE, .data.u32 = 1}, out[4];

  printf("== EPOLLEXCLUSIVE rules\n");
  OK(epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev));
  SHOW(epoll_ctl(ep, EPOLL_CTL_MOD, p[0], &ev));  // never on MOD
  ev.events = EPOLLIN;
  SHOW(epoll_ctl(ep, EPOLL_CTL_MOD, p[0], &ev));  // nor may MOD touch it
  OK(epoll_ctl(ep, EPOLL_CTL_DEL, p[0], NULL));
  ev.events = EPOLLIN | EPOLLEXCLUSIVE | EPOLLONESHOT;
  SHOW(epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev));
  ev.events = EPOLLPRI | EPOLLEXCLUSIVE;
  SHOW(epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev));
  ev.events = EPOLLIN | EPOLLRDHUP | EPOLLEXCLUSIVE;
  SHOW(epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev));
  ev.events = EPOLLIN | EPOLLOUT | EPOLLERR | EPOLLHUP | EPOLLET | EPOLLEXCLUSIVE;
  OK(epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev));
  OK(epoll_ctl(ep, EPOLL_CTL_DEL, p[0], NULL));
  int inner = epoll_create1(0);
  ev.events = EPOLLIN | EPOLLEXCLUSIVE;
  SHOW(epoll_ctl(ep, EPOLL_CTL_ADD, inner, &ev));  // not on an epoll fd
  ev.events = EPOLLIN;
  OK(epoll_ctl(ep, EPOLL_CTL_ADD, inner, &ev));
  OK(epoll_ctl(ep, EPOLL_CTL_DEL, inner, NULL));
  close(inner);
  // Readiness works as usual.
  ev.events = EPOLLIN | EPOLLEXCLUSIVE;
  ev.data.u32 = 5;
  OK(epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev));
  if (write(p[1], "x", 1) != 1) return 1;
  int n = ready(ep, out, 4);
  printf("ready %d data %u events %#x\n", n, out[0].data.u32, out[0].events);
  OK(epoll_ctl(ep, EPOLL_CTL_DEL, p[0], NULL));
  char c;
  if (read(p[0], &c, 1) != 1) return 1;

  printf("== wakeups\n");
  wakeups(0);
  wakeups(EPOLLEXCLUSIVE);

  printf("== EPOLLONESHOT\n");
  ev.events = EPOLLIN | EPOLLONESHOT;
  ev.data.u32 = 6;
  OK(epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev));
  if (write(p[1], "x", 1) != 1) return 1;
  SHOW(ready(ep, out, 4));
  SHOW(ready(ep, out, 4));  // disarmed, still readable
  SHOW(epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev));  // still registered: EEXIST
  OK(epoll_ctl(ep, EPOLL_CTL_MOD, p[0], &ev));    // re-armed
  SHOW(ready(ep, out, 4));
  OK(epoll_ctl(ep, EPOLL_CTL_DEL, p[0], NULL));

  printf("== closed fd, open dup\n");
  int a = dup(p[0]);
  ev.events = EPOLLIN;
  ev.data.u32 = 7;
  OK(epoll_ctl(ep, EPOLL_CTL_ADD, a, &ev));
  int b = dup(a);
  close(a);
  n = ready(ep, out, 4);
  printf("after close of the registered fd: %d data %u\n", n, n > 0 ? out[0].data.u32 : 0);
  SHOW(epoll_ctl(ep, EPOLL_CTL_DEL, a, NULL));  // the number is closed: EBADF
  SHOW(epoll_ctl(ep, EPOLL_CTL_DEL, b, NULL));  // keyed by (file, old fd): ENOENT
  SHOW(epoll_ctl(ep, EPOLL_CTL_MOD, b, &ev));
  ev.data.u32 = 8;
  OK(epoll_ctl(ep, EPOLL_CTL_ADD, b, &ev));     // a second registration
  n = ready(ep, out, 4);
  printf("two registrations: %d\n", n);
  // The old number reused by another file: still not the registration.
  int reuse = dup(p[1]);
  printf("reused the number: %d\n", reuse == a);
  SHOW(epoll_ctl(ep, EPOLL_CTL_DEL, reuse, NULL));
  close(reuse);
  close(b);
  close(p[0]);  // the last reference: both registrations go
  SHOW(ready(ep, out, 4));

  printf("== the dup lives in a child\n");
  if (pipe(p) < 0) return 1;
  if (write(p[1], "y", 1) != 1) return 1;
  ev.data.u32 = 9;
  OK(epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev));
  int hold[2];
  if (pipe(hold) < 0) return 1;
  pid_t kid = fork();
  if (kid == 0) {
    close(hold[1]);
    char x;
    while (read(hold[0], &x, 1) > 0) {
    }
    _exit(0);
  }
  close(hold[0]);
  close(p[0]);
  n = ready(ep, out, 4);
  printf("child holds the file: %d data %u\n", n, n > 0 ? out[0].data.u32 : 0);
  close(hold[1]);
  waitpid(kid, NULL, 0);
  SHOW(ready(ep, out, 4));
  close(p[1]);
  close(ep);
  return 0;
}
