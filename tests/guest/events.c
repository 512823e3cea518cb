// epoll, eventfd, timerfd and signalfd: readiness, edge vs level triggering,
// EPOLLONESHOT, what a closed or dup'd fd does to an epoll set, counters,
// timer expirations, signals read from a descriptor; and the errors for bad
// arguments. Compared with native.
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "common.h"

static int ready(int ep, int timeout) {
  struct epoll_event ev[8];
  return epoll_wait(ep, ev, 8, timeout);
}

int main(void) {
  int p[2];
  if (pipe(p) < 0) return 1;
  int ep = epoll_create1(EPOLL_CLOEXEC);
  printf("epoll_create1 ok: %d\n", ep >= 0);
  struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 42};
  OK(epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev));
  SHOW(epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev));
  SHOW(ready(ep, 0));
  if (write(p[1], "ab", 2) != 2) return 1;
  struct epoll_event out[4];
  int n = epoll_wait(ep, out, 4, 0);
  printf("level: n=%d data=%llu events=%#x\n", n, (unsigned long long)out[0].data.u64,
         out[0].events);
  SHOW(ready(ep, 0));  // still readable: level triggered

  ev.events = EPOLLIN | EPOLLET;
  OK(epoll_ctl(ep, EPOLL_CTL_MOD, p[0], &ev));
  SHOW(ready(ep, 0));  // edge: reported once after MOD
  SHOW(ready(ep, 0));  // then not again without new data
  if (write(p[1], "c", 1) != 1) return 1;
  SHOW(ready(ep, 0));

  ev.events = EPOLLIN | EPOLLONESHOT;
  OK(epoll_ctl(ep, EPOLL_CTL_MOD, p[0], &ev));
  SHOW(ready(ep, 0));
  SHOW(ready(ep, 0));  // disarmed

  // A dup keeps the registration alive after the original is closed.
  int d = dup(p[0]);
  ev.events = EPOLLIN;
  OK(epoll_ctl(ep, EPOLL_CTL_MOD, p[0], &ev));
  close(p[0]);
  SHOW(ready(ep, 0));
  close(d);
  SHOW(ready(ep, 0));  // the last reference went: removed

  // Errors.
  SHOW(epoll_wait(ep, out, 0, 0));
  SHOW(epoll_wait(ep, (struct epoll_event*)1, 4, 0));  // nothing to copy: 0
  {
    int q[2];
    if (pipe(q) < 0 || write(q[1], "x", 1) != 1) return 1;
    int ep2 = epoll_create1(0);
    struct epoll_event e2 = {.events = EPOLLIN};
    OK(epoll_ctl(ep2, EPOLL_CTL_ADD, q[0], &e2));
    SHOW(epoll_wait(ep2, (struct epoll_event*)1, 4, 0));  // an event to copy: EFAULT
    SHOW(epoll_wait(ep2, (struct epoll_event*)0x7ffffffff000, 4, 0));
    close(ep2);
    close(q[0]);
    close(q[1]);
  }
  SHOW(epoll_ctl(ep, EPOLL_CTL_ADD, p[1], (struct epoll_event*)1));
  SHOW(epoll_ctl(ep, EPOLL_CTL_ADD, 999, &ev));
  SHOW(epoll_ctl(ep, EPOLL_CTL_ADD, ep, &ev));
  SHOW(epoll_ctl(ep, 99, p[1], &ev));
  SHOW(epoll_create(0));
  SHOW(epoll_wait(p[1], out, 4, 0));
  SHOW(syscall(SYS_epoll_pwait, ep, out, 4, 0, NULL, 4));
  sigset_t mask;
  sigemptyset(&mask);
  SHOW(syscall(SYS_epoll_pwait, ep, out, 4, 0, &mask, 4));
  SHOW(epoll_pwait(ep, out, 4, 0, &mask));

  // eventfd: a counter; EFD_SEMAPHORE reads 1 at a time.
  int e = eventfd(3, EFD_NONBLOCK);
  uint64_t v = 0;
  SHOW(read(e, &v, 8));
  printf("eventfd value %llu\n", (unsigned long long)v);
  SHOW(read(e, &v, 8));
  v = 5;
  SHOW(write(e, &v, 8));
  SHOW(write(e, &v, 4));
  v = UINT64_MAX;
  SHOW(write(e, &v, 8));
  close(e);
  e = eventfd(2, EFD_SEMAPHORE | EFD_NONBLOCK);
  SHOW(read(e, &v, 8));
  printf("semaphore read %llu\n", (unsigned long long)v);
  SHOW(read(e, &v, 8));
  SHOW(read(e, &v, 8));
  SHOW(eventfd(0, 12345));
  close(e);

  // timerfd: a 20 ms one-shot timer; a blocking read waits for it.
  int t = timerfd_create(CLOCK_MONOTONIC, 0);
  struct itimerspec its = {{0, 0}, {0, 20 * 1000 * 1000}}, cur;
  OK(timerfd_settime(t, 0, &its, NULL));
  OK(timerfd_gettime(t, &cur));
  printf("armed: %d\n", cur.it_value.tv_sec != 0 || cur.it_value.tv_nsec != 0);
  uint64_t expirations = 0;
  SHOW(read(t, &expirations, 8));
  printf("expirations %llu\n", (unsigned long long)expirations);
  OK(timerfd_gettime(t, &cur));
  printf("disarmed: %d\n", cur.it_value.tv_sec == 0 && cur.it_value.tv_nsec == 0);
  SHOW(timerfd_settime(t, 0, (struct itimerspec*)1, NULL));
  its.it_value.tv_nsec = 2000000000;
  SHOW(timerfd_settime(t, 0, &its, NULL));
  SHOW(timerfd_create(12345, 0));
  close(t);

  // signalfd: a blocked signal is read as a signalfd_siginfo.
  sigaddset(&mask, SIGUSR1);
  OK(sigprocmask(SIG_BLOCK, &mask, NULL));
  int s = signalfd(-1, &mask, SFD_NONBLOCK);
  printf("signalfd ok: %d\n", s >= 0);
  struct signalfd_siginfo si;
  SHOW(read(s, &si, sizeof si));
  OK(raise(SIGUSR1));
  SHOW(read(s, &si, sizeof si));
  printf("ssi_signo %u ssi_pid_ok %d\n", si.ssi_signo, si.ssi_pid == (uint32_t)getpid());
  SHOW(syscall(SYS_signalfd4, -1, &mask, 4, 0));
  SHOW(syscall(SYS_signalfd4, -1, (void*)1, 8, 0));
  SHOW(syscall(SYS_signalfd4, p[1], &mask, 8, 0));
  return 0;
}
