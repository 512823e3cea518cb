// Classic BPF socket filters (net/core/filter.c sk_attach_filter,
// sk_get_filter, sk_detach_filter; net/packet/af_packet.c fanout data): the
// program is named by an address inside the option value, which the kernel
// reads in the caller's memory. Attach, replace, read back, detach, lock;
// every errno in Linux's order (locked: EPERM; no program, none or too many
// instructions: EINVAL; an unreadable program or struct: EFAULT); and a
// program's descriptor (SO_ATTACH_BPF) that is not open: EBADF.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "classic_bpf.h"
#include "common.h"

// include/uapi/asm-generic/socket.h, linux/if_packet.h, if_ether.h (musl
// has no linux/ headers).
#ifndef SO_ATTACH_FILTER
#define SO_ATTACH_FILTER 26
#endif
#ifndef SO_DETACH_FILTER
#define SO_DETACH_FILTER 27
#endif
#ifndef SO_GET_FILTER
#define SO_GET_FILTER SO_ATTACH_FILTER
#endif
#ifndef SO_LOCK_FILTER
#define SO_LOCK_FILTER 44
#endif
#ifndef SO_ATTACH_BPF
#define SO_ATTACH_BPF 50
#endif
#ifndef SO_ATTACH_REUSEPORT_CBPF
#define SO_ATTACH_REUSEPORT_CBPF 51
#endif
#ifndef SOL_PACKET
#define SOL_PACKET 263
#endif
#define PACKET_FANOUT 18
#define PACKET_FANOUT_DATA 22
#define PACKET_FANOUT_CBPF 6
#define ETH_P_ALL 0x0003

static int udp_bound(struct sockaddr_in* addr) {
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  memset(addr, 0, sizeof *addr);
  addr->sin_family = AF_INET;
  addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof *addr;
  if (fd < 0 || bind(fd, (struct sockaddr*)addr, len) < 0 ||
      getsockname(fd, (struct sockaddr*)addr, &len) < 0) {
    perror("udp socket");
    exit(2);
  }
  return fd;
}

// Sends one datagram to `to` and says whether `r` received it.
static const char* delivered(int s, int r, const struct sockaddr_in* to, const char* msg) {
  if (sendto(s, msg, strlen(msg), 0, (const struct sockaddr*)to, sizeof *to) < 0) return "send failed";
  char buf[64];
  // Loopback delivery is synchronous: the datagram is queued (or dropped by
  // the filter) before sendto returns.
  ssize_t n = recv(r, buf, sizeof buf - 1, MSG_DONTWAIT);
  if (n < 0) return errno == EAGAIN ? "dropped" : errname(errno);
  buf[n] = 0;
  return strcmp(buf, msg) == 0 ? "received" : "received something else";
}

int main(void) {
  struct sockaddr_in to;
  int r = udp_bound(&to);
  int s = socket(AF_INET, SOCK_DGRAM, 0);

  // The programs live in this program's memory, as they always do.
  struct sock_filter drop_all[] = {BPF_STMT(BPF_RET | BPF_K, 0)};
  struct sock_filter accept_all[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_LEN, 0),  // A = packet length
      BPF_STMT(BPF_RET | BPF_A, 0),           // keep all of it
  };
  struct sock_fprog drop = {1, drop_all};
  struct sock_fprog accept = {2, accept_all};

  printf("before any filter: %s\n", delivered(s, r, &to, "one"));
  OK(setsockopt(r, SOL_SOCKET, SO_ATTACH_FILTER, &drop, sizeof drop));
  printf("drop-all filter: %s\n", delivered(s, r, &to, "two"));
  OK(setsockopt(r, SOL_SOCKET, SO_ATTACH_FILTER, &accept, sizeof accept));
  printf("accept-all filter: %s\n", delivered(s, r, &to, "three"));

  int zero = 0;
  SHOW(setsockopt(r, SOL_SOCKET, SO_DETACH_FILTER, NULL, 0));  // sk_setsockopt: optlen < sizeof(int)
  // SO_GET_FILTER: a zero length asks for the count; then the program itself.
  socklen_t len = 0;
  SHOW(getsockopt(r, SOL_SOCKET, SO_GET_FILTER, NULL, &len));
  printf("count: %u\n", (unsigned)len);
  struct sock_filter back[4];
  memset(back, 0x5a, sizeof back);
  len = 1;
  SHOW(getsockopt(r, SOL_SOCKET, SO_GET_FILTER, back, &len));
  len = 4;
  SHOW(getsockopt(r, SOL_SOCKET, SO_GET_FILTER, back, &len));
  printf("count: %u, same program: %s, untouched after it: %s\n", (unsigned)len,
         memcmp(back, accept_all, sizeof accept_all) == 0 ? "yes" : "no",
         ((unsigned char*)back)[sizeof accept_all] == 0x5a ? "yes" : "no");

  OK(setsockopt(r, SOL_SOCKET, SO_DETACH_FILTER, &zero, sizeof zero));
  SHOW(setsockopt(r, SOL_SOCKET, SO_DETACH_FILTER, &zero, sizeof zero));
  printf("after detach: %s\n", delivered(s, r, &to, "four"));

  // Bad programs and bad memory.
  long page = sysconf(_SC_PAGESIZE);
  char* two = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (two == MAP_FAILED || mprotect(two + page, page, PROT_NONE) != 0) return 2;
  char* none = two + page;
  struct sock_fprog bad;
  SHOW(setsockopt(r, SOL_SOCKET, SO_ATTACH_FILTER, &drop, 8));
  SHOW(setsockopt(r, SOL_SOCKET, SO_ATTACH_FILTER, &drop, sizeof drop + 1));
  bad = (struct sock_fprog){1, NULL};
  SHOW(setsockopt(r, SOL_SOCKET, SO_ATTACH_FILTER, &bad, sizeof bad));
  bad = (struct sock_fprog){0, drop_all};
  SHOW(setsockopt(r, SOL_SOCKET, SO_ATTACH_FILTER, &bad, sizeof bad));
  bad = (struct sock_fprog){BPF_MAXINSNS + 1, drop_all};
  SHOW(setsockopt(r, SOL_SOCKET, SO_ATTACH_FILTER, &bad, sizeof bad));
  bad = (struct sock_fprog){1, (struct sock_filter*)none};
  SHOW(setsockopt(r, SOL_SOCKET, SO_ATTACH_FILTER, &bad, sizeof bad));
  // The program's last instruction runs into the unreadable page.
  struct sock_filter* edge = (struct sock_filter*)(none - sizeof drop_all);  // one instruction
  memcpy(edge, drop_all, sizeof drop_all);
  bad = (struct sock_fprog){2, edge};
  SHOW(setsockopt(r, SOL_SOCKET, SO_ATTACH_FILTER, &bad, sizeof bad));
  bad = (struct sock_fprog){1, edge};
  OK(setsockopt(r, SOL_SOCKET, SO_ATTACH_FILTER, &bad, sizeof bad));
  OK(setsockopt(r, SOL_SOCKET, SO_DETACH_FILTER, &zero, sizeof zero));
  SHOW(setsockopt(r, SOL_SOCKET, SO_ATTACH_FILTER, none, sizeof drop));
  // A program that does not end in a return: the kernel's checker.
  struct sock_filter no_ret[] = {BPF_STMT(BPF_LD | BPF_W | BPF_LEN, 0)};
  bad = (struct sock_fprog){1, no_ret};
  SHOW(setsockopt(r, SOL_SOCKET, SO_ATTACH_FILTER, &bad, sizeof bad));

  // A locked filter cannot be replaced or removed.
  OK(setsockopt(r, SOL_SOCKET, SO_ATTACH_FILTER, &accept, sizeof accept));
  int one = 1;
  OK(setsockopt(r, SOL_SOCKET, SO_LOCK_FILTER, &one, sizeof one));
  SHOW(setsockopt(r, SOL_SOCKET, SO_ATTACH_FILTER, &drop, sizeof drop));
  SHOW(setsockopt(r, SOL_SOCKET, SO_ATTACH_FILTER, &bad, sizeof bad));
  SHOW(setsockopt(r, SOL_SOCKET, SO_DETACH_FILTER, &zero, sizeof zero));
  printf("locked accept-all: %s\n", delivered(s, r, &to, "five"));

  // SO_ATTACH_BPF takes a descriptor: one that is not open is EBADF, one
  // that is not a BPF program EINVAL.
  int fd = 60000;
  SHOW(setsockopt(s, SOL_SOCKET, SO_ATTACH_BPF, &fd, sizeof fd));
  fd = 1000;
  SHOW(setsockopt(s, SOL_SOCKET, SO_ATTACH_BPF, &fd, sizeof fd));
  fd = -1;
  SHOW(setsockopt(s, SOL_SOCKET, SO_ATTACH_BPF, &fd, sizeof fd));
  fd = r;
  SHOW(setsockopt(s, SOL_SOCKET, SO_ATTACH_BPF, &fd, sizeof fd));

  // SO_ATTACH_REUSEPORT_CBPF: a group of SO_REUSEPORT sockets picks by program.
  int g1 = socket(AF_INET, SOCK_DGRAM, 0), g2 = socket(AF_INET, SOCK_DGRAM, 0);
  OK(setsockopt(g1, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one));
  OK(setsockopt(g2, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one));
  struct sockaddr_in ga = to;
  ga.sin_port = 0;
  socklen_t glen = sizeof ga;
  OK(bind(g1, (struct sockaddr*)&ga, sizeof ga));
  OK(getsockname(g1, (struct sockaddr*)&ga, &glen));
  OK(bind(g2, (struct sockaddr*)&ga, sizeof ga));
  struct sock_filter pick_first[] = {BPF_STMT(BPF_RET | BPF_K, 0)};
  struct sock_fprog pick = {1, pick_first};
  OK(setsockopt(g1, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &pick, sizeof pick));
  int first = 0;
  for (int i = 0; i < 4; i++) first += strcmp(delivered(s, g1, &ga, "six"), "received") == 0;
  printf("reuseport program: the first socket received %d of 4\n", first);
  bad = (struct sock_fprog){1, (struct sock_filter*)none};
  SHOW(setsockopt(g1, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &bad, sizeof bad));

  // PACKET_FANOUT_DATA (root: CAP_NET_RAW): a classic program for a
  // PACKET_FANOUT_CBPF group.
  int p = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
  if (p < 0) {
    printf("packet socket: %s (the fanout cases need CAP_NET_RAW)\n", errname(errno));
  } else {
    SHOW(setsockopt(p, SOL_PACKET, PACKET_FANOUT_DATA, &pick, sizeof pick));
    int arg = 0x4242 | (PACKET_FANOUT_CBPF << 16);
    OK(setsockopt(p, SOL_PACKET, PACKET_FANOUT, &arg, sizeof arg));
    OK(setsockopt(p, SOL_PACKET, PACKET_FANOUT_DATA, &pick, sizeof pick));
    SHOW(setsockopt(p, SOL_PACKET, PACKET_FANOUT_DATA, &bad, sizeof bad));
    fd = 0;
    SHOW(setsockopt(p, SOL_PACKET, PACKET_FANOUT_DATA, &fd, sizeof fd));
    close(p);
  }
  return 0;
}
