// Sockets: AF_UNIX stream and datagram pairs, a path socket in the working
// directory, an abstract socket, SCM_RIGHTS and SCM_CREDENTIALS, MSG_PEEK /
// MSG_DONTWAIT / MSG_TRUNC, sendmmsg/recvmmsg, AF_INET and AF_INET6 on
// loopback, socket options, getifaddrs (AF_NETLINK), and the errors for bad
// pointers, lengths and fds. Compared with native.
#include <arpa/inet.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <poll.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "common.h"
#include "own_dir.h"

#define BAD ((void*)1)

static void pairs(void) {
  int sv[2];
  OK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
  SHOW(write(sv[0], "hello", 5));
  char buf[64] = {0};
  SHOW(read(sv[1], buf, sizeof buf));
  printf("got %s\n", buf);
  SHOW(send(sv[1], "abcdef", 6, 0));
  memset(buf, 0, sizeof buf);
  SHOW(recv(sv[0], buf, 3, MSG_PEEK));
  SHOW(recv(sv[0], buf, sizeof buf, 0));
  printf("got %s\n", buf);
  SHOW(recv(sv[0], buf, sizeof buf, MSG_DONTWAIT));
  // recvfrom on a stream: no address, the length becomes 0.
  SHOW(send(sv[1], "x", 1, 0));
  struct sockaddr_un from;
  socklen_t fl = sizeof from;
  SHOW(recvfrom(sv[0], buf, sizeof buf, 0, (struct sockaddr*)&from, &fl));
  printf("fromlen %u\n", (unsigned)fl);
  OK(shutdown(sv[1], SHUT_WR));
  SHOW(recv(sv[0], buf, sizeof buf, 0));
  close(sv[0]);
  close(sv[1]);

  OK(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv));
  SHOW(send(sv[0], "0123456789", 10, 0));
  SHOW(recv(sv[1], buf, 4, MSG_TRUNC));  // the real length
  SHOW(send(sv[0], "0123456789", 10, 0));
  struct iovec iv = {buf, 4};
  struct msghdr mh = {.msg_iov = &iv, .msg_iovlen = 1};
  SHOW(recvmsg(sv[1], &mh, 0));
  printf("msg_flags MSG_TRUNC: %d\n", !!(mh.msg_flags & MSG_TRUNC));
  // A buffer split over two iovecs.
  char a[3], b[8];
  struct iovec two[2] = {{a, 3}, {b, 8}};
  SHOW(send(sv[0], "split-me", 8, 0));
  struct msghdr m2 = {.msg_iov = two, .msg_iovlen = 2};
  SHOW(recvmsg(sv[1], &m2, 0));
  printf("%.3s|%.5s\n", a, b);
  close(sv[0]);
  close(sv[1]);
}

static void path_socket(void) {
  int s = socket(AF_UNIX, SOCK_STREAM, 0);
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  strcpy(sa.sun_path, "sock");
  socklen_t len = offsetof(struct sockaddr_un, sun_path) + 5;
  OK(bind(s, (struct sockaddr*)&sa, len));
  SHOW(bind(s, (struct sockaddr*)&sa, len));
  OK(listen(s, 4));
  int c = socket(AF_UNIX, SOCK_STREAM, 0);
  OK(connect(c, (struct sockaddr*)&sa, len));
  struct sockaddr_un peer;
  socklen_t pl = sizeof peer;
  int a = accept4(s, (struct sockaddr*)&peer, &pl, SOCK_CLOEXEC);
  printf("accept ok %d peerlen %u\n", a >= 0, (unsigned)pl);
  printf("cloexec %d\n", fcntl(a, F_GETFD) & FD_CLOEXEC);
  struct sockaddr_un nm;
  socklen_t nl = sizeof nm;
  OK(getsockname(s, (struct sockaddr*)&nm, &nl));
  printf("name %s len %u\n", nm.sun_path, (unsigned)nl);
  nl = sizeof nm;
  OK(getpeername(c, (struct sockaddr*)&nm, &nl));
  printf("peer %s len %u\n", nm.sun_path, (unsigned)nl);
  // Truncated: only 4 bytes written, the full length reported.
  memset(&nm, 'Z', sizeof nm);
  nl = 4;
  OK(getsockname(s, (struct sockaddr*)&nm, &nl));
  printf("trunc len %u next byte %c\n", (unsigned)nl, ((char*)&nm)[4]);
  nl = -1;
  SHOW(getsockname(s, (struct sockaddr*)&nm, &nl));
  SHOW(getsockname(s, (struct sockaddr*)&nm, BAD));
  nl = sizeof nm;
  SHOW(getsockname(s, BAD, &nl));
  SHOW(write(c, "ping", 4));
  char buf[8] = {0};
  SHOW(read(a, buf, sizeof buf));
  // SO_PEERCRED: a plain struct.
  struct ucred cr;
  socklen_t crl = sizeof cr;
  OK(getsockopt(a, SOL_SOCKET, SO_PEERCRED, &cr, &crl));
  printf("peercred pid ok %d uid ok %d len %u\n", cr.pid == getpid(), cr.uid == getuid(),
         (unsigned)crl);
  close(a);
  close(c);
  close(s);
  unlink("sock");

  // Abstract.
  s = socket(AF_UNIX, SOCK_DGRAM, 0);
  struct sockaddr_un ab = {.sun_family = AF_UNIX};
  // The pid keeps concurrent runs (glibc and musl builds) apart.
  int nlen = snprintf(ab.sun_path + 1, sizeof ab.sun_path - 1, "elfuse-test-%d", (int)getpid());
  socklen_t al = offsetof(struct sockaddr_un, sun_path) + 1 + nlen;
  OK(bind(s, (struct sockaddr*)&ab, al));
  c = socket(AF_UNIX, SOCK_DGRAM, 0);
  SHOW(sendto(c, "abs", 3, 0, (struct sockaddr*)&ab, al));
  struct sockaddr_un from;
  socklen_t fl = sizeof from;
  memset(buf, 0, sizeof buf);
  SHOW(recvfrom(s, buf, sizeof buf, 0, (struct sockaddr*)&from, &fl));
  printf("got %s fromlen %u\n", buf, (unsigned)fl);
  close(c);
  close(s);
}

static void rights_and_creds(void) {
  int sv[2], p[2];
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0 || pipe(p) < 0) return;
  union {
    char buf[CMSG_SPACE(sizeof(int) * 2)];
    struct cmsghdr align;
  } u;
  memset(&u, 0, sizeof u);
  struct iovec iv = {"F", 1};
  struct msghdr mh = {.msg_iov = &iv,
                      .msg_iovlen = 1,
                      .msg_control = u.buf,
                      .msg_controllen = CMSG_SPACE(sizeof(int))};
  struct cmsghdr* c = CMSG_FIRSTHDR(&mh);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(c), &p[0], sizeof(int));
  SHOW(sendmsg(sv[0], &mh, 0));
  close(p[0]);
  SHOW(write(p[1], "through", 7));

  char data[4];
  struct iovec riv = {data, sizeof data};
  union {
    char buf[256];
    struct cmsghdr align;
  } r;
  struct msghdr rm = {
      .msg_iov = &riv, .msg_iovlen = 1, .msg_control = r.buf, .msg_controllen = sizeof r.buf};
  SHOW(recvmsg(sv[1], &rm, MSG_CMSG_CLOEXEC));
  printf("controllen %zu flags %#x\n", (size_t)rm.msg_controllen, rm.msg_flags);
  struct cmsghdr* rc = CMSG_FIRSTHDR(&rm);
  if (rc && rc->cmsg_type == SCM_RIGHTS) {
    int fd;
    memcpy(&fd, CMSG_DATA(rc), sizeof fd);
    char buf[16] = {0};
    SHOW(read(fd, buf, sizeof buf));
    printf("read through passed fd: %s cloexec %d\n", buf, fcntl(fd, F_GETFD) & FD_CLOEXEC);
    close(fd);
  }

  // A bad fd in SCM_RIGHTS; one far above any real fd too.
  int bad = 999;
  memcpy(CMSG_DATA(c), &bad, sizeof(int));
  SHOW(sendmsg(sv[0], &mh, 0));
  bad = 70000;
  memcpy(CMSG_DATA(c), &bad, sizeof(int));
  SHOW(sendmsg(sv[0], &mh, 0));
  bad = 1500;
  memcpy(CMSG_DATA(c), &bad, sizeof(int));
  SHOW(sendmsg(sv[0], &mh, 0));

  // Three fds but room for two: MSG_CTRUNC, the third dropped.
  int q[2];
  if (pipe(q) < 0) return;
  union {
    char buf[CMSG_SPACE(sizeof(int) * 3)];
    struct cmsghdr align;
  } u3;
  memset(&u3, 0, sizeof u3);
  struct msghdr m3 = {
      .msg_iov = &iv, .msg_iovlen = 1, .msg_control = u3.buf, .msg_controllen = sizeof u3.buf};
  struct cmsghdr* c3 = CMSG_FIRSTHDR(&m3);
  c3->cmsg_level = SOL_SOCKET;
  c3->cmsg_type = SCM_RIGHTS;
  c3->cmsg_len = CMSG_LEN(sizeof(int) * 3);
  int three[3] = {q[0], q[1], q[0]};
  memcpy(CMSG_DATA(c3), three, sizeof three);
  SHOW(sendmsg(sv[0], &m3, 0));
  rm.msg_controllen = CMSG_SPACE(sizeof(int));
  SHOW(recvmsg(sv[1], &rm, 0));
  printf("controllen %zu ctrunc %d\n", (size_t)rm.msg_controllen, !!(rm.msg_flags & MSG_CTRUNC));
  rc = CMSG_FIRSTHDR(&rm);
  if (rc) {
    int n = (rc->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    printf("fds received %d\n", n);
    for (int i = 0; i < n; i++) {
      int fd;
      memcpy(&fd, CMSG_DATA(rc) + i * sizeof(int), sizeof fd);
      close(fd);
    }
  }
  // Under a lower RLIMIT_NOFILE: the fds that do not fit are not installed
  // (scm_detach_fds stops at EMFILE) and MSG_CTRUNC says so.
  struct rlimit old, low;
  getrlimit(RLIMIT_NOFILE, &old);
  int probe = dup(0);
  close(probe);
  low = old;
  low.rlim_cur = probe + 1;  // room for exactly one more fd
  SHOW(sendmsg(sv[0], &m3, 0));
  OK(setrlimit(RLIMIT_NOFILE, &low));
  rm.msg_controllen = sizeof r.buf;
  SHOW(recvmsg(sv[1], &rm, 0));
  OK(setrlimit(RLIMIT_NOFILE, &old));
  printf("controllen %zu ctrunc %d\n", (size_t)rm.msg_controllen, !!(rm.msg_flags & MSG_CTRUNC));
  rc = CMSG_FIRSTHDR(&rm);
  if (rc) {
    int n = (rc->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    printf("fds received %d\n", n);
    for (int i = 0; i < n; i++) {
      int fd;
      memcpy(&fd, CMSG_DATA(rc) + i * sizeof(int), sizeof fd);
      close(fd);
    }
  }
  // None fits: no cmsg at all.
  low.rlim_cur = probe;
  SHOW(sendmsg(sv[0], &m3, 0));
  OK(setrlimit(RLIMIT_NOFILE, &low));
  rm.msg_controllen = sizeof r.buf;
  SHOW(recvmsg(sv[1], &rm, 0));
  OK(setrlimit(RLIMIT_NOFILE, &old));
  printf("controllen %zu ctrunc %d\n", (size_t)rm.msg_controllen, !!(rm.msg_flags & MSG_CTRUNC));
  probe = dup(0);
  printf("no fd leaked: %d\n", probe == (int)low.rlim_cur);
  close(probe);
  close(q[0]);
  close(q[1]);
  close(p[1]);

  // SCM_CREDENTIALS with SO_PASSCRED.
  int on = 1;
  OK(setsockopt(sv[1], SOL_SOCKET, SO_PASSCRED, &on, sizeof on));
  struct ucred me = {getpid(), getuid(), getgid()};
  mh.msg_controllen = CMSG_SPACE(sizeof me);
  c = CMSG_FIRSTHDR(&mh);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_CREDENTIALS;
  c->cmsg_len = CMSG_LEN(sizeof me);
  memcpy(CMSG_DATA(c), &me, sizeof me);
  SHOW(sendmsg(sv[0], &mh, 0));
  rm.msg_controllen = sizeof r.buf;
  SHOW(recvmsg(sv[1], &rm, 0));
  rc = CMSG_FIRSTHDR(&rm);
  if (rc && rc->cmsg_type == SCM_CREDENTIALS) {
    struct ucred got;
    memcpy(&got, CMSG_DATA(rc), sizeof got);
    printf("creds pid ok %d uid ok %d gid ok %d\n", got.pid == getpid(), got.uid == getuid(),
           got.gid == getgid());
  }
  // Without a control buffer: MSG_CTRUNC.
  SHOW(send(sv[0], "y", 1, 0));
  rm.msg_control = NULL;
  rm.msg_controllen = 0;
  SHOW(recvmsg(sv[1], &rm, 0));
  printf("ctrunc %d\n", !!(rm.msg_flags & MSG_CTRUNC));
  close(sv[0]);
  close(sv[1]);
}

static void mmsg(void) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) < 0) return;
  struct mmsghdr out[3];
  struct iovec oiv[3] = {{"one", 3}, {"two!", 4}, {"three", 5}};
  memset(out, 0, sizeof out);
  for (int i = 0; i < 3; i++) {
    out[i].msg_hdr.msg_iov = &oiv[i];
    out[i].msg_hdr.msg_iovlen = 1;
  }
  SHOW(sendmmsg(sv[0], out, 3, 0));
  printf("msg_len %u %u %u\n", out[0].msg_len, out[1].msg_len, out[2].msg_len);
  struct mmsghdr in[4];
  char bufs[4][8];
  struct iovec iiv[4];
  memset(in, 0, sizeof in);
  for (int i = 0; i < 4; i++) {
    iiv[i].iov_base = bufs[i];
    iiv[i].iov_len = 8;
    in[i].msg_hdr.msg_iov = &iiv[i];
    in[i].msg_hdr.msg_iovlen = 1;
  }
  SHOW(recvmmsg(sv[1], in, 4, MSG_DONTWAIT, NULL));
  printf("%u:%.3s %u:%.4s %u:%.5s\n", in[0].msg_len, bufs[0], in[1].msg_len, bufs[1], in[2].msg_len,
         bufs[2]);
  SHOW(recvmmsg(sv[1], in, 4, MSG_DONTWAIT, NULL));
  SHOW(sendmmsg(sv[0], out, 2, 0));
  struct timespec ts = {5, 0};
  SHOW(recvmmsg(sv[1], in, 2, 0, &ts));
  printf("timeout left positive %d\n", ts.tv_sec > 0 || ts.tv_nsec > 0);
  SHOW(sendmmsg(sv[0], out, 1, 0));
  SHOW(recvmmsg(sv[1], in, 4, MSG_WAITFORONE, NULL));
  struct timespec badts = {0, 2000000000};
  SHOW(recvmmsg(sv[1], in, 1, 0, &badts));
  SHOW(recvmmsg(sv[1], in, 1, 0, BAD));
  SHOW(sendmmsg(sv[0], BAD, 1, 0));
  SHOW(sendmmsg(sv[0], out, 0, 0));
  close(sv[0]);
  close(sv[1]);
}

static void inet(void) {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  int on = 1;
  OK(setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on));
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  OK(bind(s, (struct sockaddr*)&sa, sizeof sa));
  OK(listen(s, 4));
  socklen_t l = sizeof sa;
  OK(getsockname(s, (struct sockaddr*)&sa, &l));
  printf("port nonzero %d len %u\n", sa.sin_port != 0, (unsigned)l);
  int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  OK(connect(c, (struct sockaddr*)&sa, sizeof sa));
  struct sockaddr_in peer;
  socklen_t pl = sizeof peer;
  int a = accept(s, (struct sockaddr*)&peer, &pl);
  printf("accepted %d peer loopback %d len %u\n", a >= 0,
         peer.sin_addr.s_addr == htonl(INADDR_LOOPBACK), (unsigned)pl);
  SHOW(send(c, "tcp!", 4, 0));
  char buf[8] = {0};
  // Loopback delivery can lag the send (seen natively in the SVM lane):
  // wait until the bytes are there, then MSG_WAITALL with MSG_DONTWAIT
  // returns the 4 it has rather than waiting for 8.
  struct pollfd pin = {a, POLLIN, 0};
  poll(&pin, 1, 5000);
  SHOW(recv(a, buf, sizeof buf, MSG_WAITALL | MSG_DONTWAIT) >= 0 ? 4 : -1);
  int type = 0;
  socklen_t tl = sizeof type;
  OK(getsockopt(c, SOL_SOCKET, SO_TYPE, &type, &tl));
  printf("SO_TYPE %d len %u\n", type, (unsigned)tl);
  int rcv = 0;
  tl = sizeof rcv;
  OK(getsockopt(c, SOL_SOCKET, SO_RCVBUF, &rcv, &tl));
  printf("SO_RCVBUF > 0: %d\n", rcv > 0);
  // A short optlen: truncated value, the length as given.
  char one = 0;
  tl = 1;
  OK(getsockopt(c, SOL_SOCKET, SO_TYPE, &one, &tl));
  printf("short optlen %u value %d\n", (unsigned)tl, one);
  tl = -1;
  SHOW(getsockopt(c, SOL_SOCKET, SO_TYPE, &type, &tl));
  tl = sizeof type;
  SHOW(getsockopt(c, SOL_SOCKET, SO_TYPE, BAD, &tl));
  SHOW(getsockopt(c, SOL_SOCKET, SO_TYPE, &type, BAD));
  SHOW(setsockopt(c, SOL_SOCKET, SO_REUSEADDR, BAD, sizeof on));
  SHOW(setsockopt(c, SOL_SOCKET, SO_REUSEADDR, &on, -1));
  SHOW(setsockopt(c, SOL_SOCKET, SO_REUSEADDR, &on, 2));
  close(a);
  close(c);
  close(s);

  // UDP.
  s = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in u = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  OK(bind(s, (struct sockaddr*)&u, sizeof u));
  l = sizeof u;
  OK(getsockname(s, (struct sockaddr*)&u, &l));
  c = socket(AF_INET, SOCK_DGRAM, 0);
  SHOW(sendto(c, "udp", 3, 0, (struct sockaddr*)&u, sizeof u));
  SHOW(sendto(c, "udp", 3, 0, (struct sockaddr*)&u, 0));
  SHOW(sendto(c, "udp", 3, 0, (struct sockaddr*)&u, -1));
  SHOW(sendto(c, "udp", 3, 0, (struct sockaddr*)&u, 200));
  SHOW(sendto(c, "udp", 3, 0, BAD, sizeof u));
  struct sockaddr_in from;
  socklen_t fl = sizeof from;
  SHOW(recvfrom(s, buf, sizeof buf, 0, (struct sockaddr*)&from, &fl));
  printf("from loopback %d len %u\n", from.sin_addr.s_addr == htonl(INADDR_LOOPBACK), (unsigned)fl);
  // EFAULT after the datagram is taken.
  // (Each datagram is waited for first: loopback delivery can lag the
  // send, and MSG_DONTWAIT would then be EAGAIN.)
  struct pollfd uin = {s, POLLIN, 0};
  SHOW(sendto(c, "udp", 3, 0, (struct sockaddr*)&u, sizeof u));
  poll(&uin, 1, 5000);
  SHOW(recvfrom(s, buf, sizeof buf, MSG_DONTWAIT, (struct sockaddr*)&from, BAD));
  SHOW(recvfrom(s, buf, sizeof buf, MSG_DONTWAIT, NULL, NULL));
  SHOW(sendto(c, "udp", 3, 0, (struct sockaddr*)&u, sizeof u));
  poll(&uin, 1, 5000);
  SHOW(recvfrom(s, BAD, sizeof buf, MSG_DONTWAIT, NULL, NULL));
  SHOW(recvfrom(s, buf, sizeof buf, MSG_DONTWAIT, NULL, NULL));
  close(c);
  close(s);

  // IPv6.
  s = socket(AF_INET6, SOCK_STREAM, 0);
  if (s < 0) {
    printf("no ipv6\n");
    return;
  }
  struct sockaddr_in6 s6 = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
  if (bind(s, (struct sockaddr*)&s6, sizeof s6) < 0) {
    printf("no ipv6 loopback\n");
    close(s);
    return;
  }
  OK(listen(s, 1));
  l = sizeof s6;
  OK(getsockname(s, (struct sockaddr*)&s6, &l));
  printf("v6 port nonzero %d len %u\n", s6.sin6_port != 0, (unsigned)l);
  c = socket(AF_INET6, SOCK_STREAM, 0);
  OK(connect(c, (struct sockaddr*)&s6, sizeof s6));
  a = accept(s, NULL, NULL);
  SHOW(send(a, "six", 3, 0));
  memset(buf, 0, sizeof buf);
  SHOW(recv(c, buf, 3, MSG_WAITALL));
  printf("got %s\n", buf);
  close(a);
  close(c);
  close(s);
}

static void errors(void) {
  int p[2];
  if (pipe(p) < 0) return;
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  SHOW(bind(p[0], (struct sockaddr*)&sa, sizeof sa));
  SHOW(listen(p[0], 1));
  SHOW(send(p[1], "x", 1, 0));
  SHOW(getsockname(p[0], (struct sockaddr*)&sa, BAD));
  struct msghdr mh = {0};
  SHOW(sendmsg(p[1], BAD, 0));
  SHOW(recvmsg(p[0], &mh, MSG_DONTWAIT));
  SHOW(bind(1500, (struct sockaddr*)&sa, sizeof sa));
  SHOW(listen(70000, 1));
  SHOW(accept(1500, NULL, NULL));
  SHOW(sendmsg(1500, &mh, 0));
  SHOW(recvmsg(70000, &mh, 0));
  SHOW(socket(AF_UNIX, 99, 0));
  SHOW(socket(12345, SOCK_STREAM, 0));
  SHOW(socketpair(AF_UNIX, SOCK_STREAM, 0, BAD));
  SHOW(socketpair(AF_INET, SOCK_STREAM, 0, BAD));
  SHOW(socketpair(AF_UNIX, SOCK_STREAM | 0x100, 0, BAD));
  SHOW(accept4(p[0], NULL, NULL, 0x1234));

  int s = socket(AF_UNIX, SOCK_DGRAM, 0);
  SHOW(bind(s, BAD, sizeof sa));
  SHOW(bind(s, (struct sockaddr*)&sa, -1));
  SHOW(bind(s, (struct sockaddr*)&sa, 1000));
  SHOW(connect(s, BAD, sizeof sa));
  SHOW(connect(s, NULL, 0));
  SHOW(sendmsg(s, BAD, 0));
  struct iovec iv = {"z", 1};
  mh.msg_iov = &iv;
  mh.msg_iovlen = 1025;
  SHOW(sendmsg(s, &mh, 0));
  SHOW(recvmsg(s, &mh, 0));
  mh.msg_iovlen = 1;
  mh.msg_name = &sa;
  mh.msg_namelen = -1;
  SHOW(sendmsg(s, &mh, 0));
  SHOW(recvmsg(s, &mh, 0));
  mh.msg_name = BAD;
  mh.msg_namelen = sizeof sa;
  SHOW(sendmsg(s, &mh, 0));
  mh.msg_name = NULL;
  mh.msg_namelen = 0;
  mh.msg_iov = BAD;
  SHOW(sendmsg(s, &mh, 0));
  struct iovec neg = {"z", (size_t)-1};
  mh.msg_iov = &neg;
  SHOW(sendmsg(s, &mh, 0));
  mh.msg_iov = &iv;
  mh.msg_control = BAD;
  mh.msg_controllen = 32;
  SHOW(sendmsg(s, &mh, 0));
  mh.msg_controllen = (size_t)1 << 40;
  SHOW(sendmsg(s, &mh, 0));
  SHOW(sendto(s, BAD, 5, 0, NULL, 0));
  SHOW(sendto(s, (void*)0x7ffffffff000, 4096, 0, NULL, 0));
  SHOW(recvfrom(s, (void*)0x7ffffffff000, 4096, MSG_DONTWAIT, NULL, NULL));

  // A receive buffer whose second half is not writable: the stream gets
  // the prefix, the datagram EFAULT.
  char* pg = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  mprotect(pg + 4096, 4096, PROT_READ);
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0) {
    SHOW(send(sv[0], "0123456789", 10, 0));
    SHOW(recv(sv[1], pg + 4096 - 4, 10, 0));
    SHOW(recv(sv[1], pg + 4096 - 4, 10, MSG_DONTWAIT));
    close(sv[0]);
    close(sv[1]);
  }
  if (socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) == 0) {
    SHOW(send(sv[0], "0123456789", 10, 0));
    SHOW(recv(sv[1], pg + 4096 - 4, 10, 0));
    SHOW(recv(sv[1], pg, 10, MSG_DONTWAIT));
    // Sending from a buffer that runs into an unmapped page.
    munmap(pg + 4096, 4096);
    SHOW(send(sv[0], pg + 4096 - 4, 10, 0));
    close(sv[0]);
    close(sv[1]);
  }
  close(s);
  close(p[0]);
  close(p[1]);
}

static void ifaddrs(void) {
  struct ifaddrs* ifa;
  if (getifaddrs(&ifa) < 0) {
    printf("getifaddrs: %s\n", errname(errno));
    return;
  }
  int lo = 0, lo4 = 0;
  for (struct ifaddrs* i = ifa; i; i = i->ifa_next) {
    if (strcmp(i->ifa_name, "lo") == 0) {
      lo = 1;
      if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET) lo4 = 1;
    }
  }
  printf("getifaddrs: lo %d lo inet %d\n", lo, lo4);
  freeifaddrs(ifa);
}

int main(void) {
  own_dir_enter();
  setvbuf(stdout, NULL, _IONBF, 0);
  pairs();
  path_socket();
  rights_and_creds();
  mmsg();
  inet();
  errors();
  ifaddrs();
  return 0;
}
