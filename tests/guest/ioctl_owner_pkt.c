// ioctl requests that were ENOTTY under elfuse: a socket's owner
// (FIOSETOWN, FIOGETOWN, SIOCSPGRP, SIOCGPGRP: net/socket.c sock_ioctl, the
// same owner as F_SETOWN/F_GETOWN), which a pipe does not know (ENOTTY,
// also with an unreadable argument); a pty master's packet mode (TIOCPKT,
// TIOCGPKT: a status byte before the data, TIOCPKT_FLUSHREAD after a
// flush); every ioctl and the owner fcntls on an O_PATH fd are EBADF.
// gVisor's ioctl.cc FIOGETOWNSucceeds, SIOCGPGRPSucceeds; pty.cc TIOCPKT;
// fcntl.cc SetOwnExOPath.
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include "common.h"

// linux/sockios.h (not in every libc's headers).
#ifndef FIOSETOWN
#define FIOSETOWN 0x8901
#endif
#ifndef SIOCSPGRP
#define SIOCSPGRP 0x8902
#endif
#ifndef FIOGETOWN
#define FIOGETOWN 0x8903
#endif
#ifndef SIOCGPGRP
#define SIOCGPGRP 0x8904
#endif

static void owner(const char* title, int fd) {
  int me = getpid(), group = -getpgrp(), zero = 0, bad = 0x3ffffff0, v = -1;
  printf("-- %s\n", title);
  SHOW(ioctl(fd, FIOGETOWN, &v));
  printf("owner %d\n", v);
  v = -1;
  SHOW(ioctl(fd, SIOCGPGRP, &v));
  printf("owner %d\n", v);
  SHOW(ioctl(fd, FIOSETOWN, &me));
  v = -1;
  SHOW(ioctl(fd, FIOGETOWN, &v));
  CHECK(v == me);
  v = -1;
  SHOW(ioctl(fd, SIOCGPGRP, &v));
  CHECK(v == me);
  CHECK(fcntl(fd, F_GETOWN) == me);
  SHOW(ioctl(fd, SIOCSPGRP, &group));
  v = -1;
  SHOW(ioctl(fd, FIOGETOWN, &v));
  CHECK(v == group);
  CHECK(fcntl(fd, F_GETOWN) == group);
  SHOW(ioctl(fd, FIOSETOWN, &bad));
  SHOW(ioctl(fd, FIOSETOWN, NULL));
  SHOW(ioctl(fd, FIOGETOWN, NULL));
  SHOW(ioctl(fd, SIOCSPGRP, &zero));
  v = -1;
  SHOW(ioctl(fd, SIOCGPGRP, &v));
  printf("owner %d\n", v);
}

int main(void) {
  int sv[2], p[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0 ||
      pipe(p) != 0)
    return 1;
  owner("socket", sv[0]);
  owner("pipe", p[0]);

  printf("-- O_PATH\n");
  int op = open(".", O_PATH);
  int v = 0, me = getpid();
  struct f_owner_ex ex = {F_OWNER_PID, me};
  SHOW(fcntl(op, F_SETOWN_EX, &ex));
  SHOW(fcntl(op, F_GETOWN_EX, &ex));
  SHOW(fcntl(op, F_SETOWN_EX, NULL));
  SHOW(fcntl(op, F_GETOWN_EX, NULL));
  SHOW(fcntl(op, F_SETLK, NULL));
  SHOW(fcntl(p[0], F_SETOWN_EX, NULL));
  SHOW(fcntl(op, F_SETOWN, me));
  SHOW(fcntl(op, F_GETOWN));
  SHOW(ioctl(op, FIOGETOWN, &v));
  SHOW(ioctl(op, FIONREAD, &v));
  SHOW(ioctl(op, FIONBIO, NULL));
  SHOW(ioctl(op, FIOCLEX));
  SHOW(ioctl(op, 0x1234, 0));

  printf("-- pty\n");
  int m = posix_openpt(O_RDWR | O_NOCTTY);
  if (m < 0 || grantpt(m) != 0 || unlockpt(m) != 0) return 1;
  int s = open(ptsname(m), O_RDWR | O_NOCTTY);
  if (s < 0) return 1;
  int one = 1, zero = 0;
  v = -1;
  SHOW(ioctl(m, TIOCGPKT, &v));
  printf("packet mode %d\n", v);
  SHOW(ioctl(m, TIOCPKT, &one));
  v = -1;
  SHOW(ioctl(m, TIOCGPKT, &v));
  printf("packet mode %d\n", v);
  SHOW(write(s, "hi", 2));
  char buf[16] = {0};
  SHOW(read(m, buf, sizeof buf));
  printf("status %d, data %.2s\n", buf[0], buf + 1);
  SHOW(tcflush(s, TCIFLUSH));
  buf[0] = 0;
  SHOW(read(m, buf, sizeof buf));
  printf("status %d\n", buf[0]);
  SHOW(ioctl(m, TIOCPKT, &zero));
  SHOW(ioctl(s, TIOCPKT, &one));
  SHOW(ioctl(s, TIOCGPKT, &v));
  SHOW(ioctl(m, TIOCPKT, NULL));
  SHOW(ioctl(p[0], TIOCPKT, NULL));
  SHOW(ioctl(p[0], TCSETS, NULL));
  return 0;
}
