// A socket option whose length is not in bytes: SO_GET_FILTER's optlen
// counts filter instructions (net/core/filter.c sk_get_filter), and the
// kernel writes 8 bytes for each. A handler that sizes its buffer from
// optlen as bytes lets the guest write up to 7 times that into elfuse's
// heap with a program of its choosing. 512 instructions (4 KiB read back
// into what was a 512-byte buffer) stay well inside net.core.optmem_max
// on every kernel (20 KiB before 6.9), which the attached program is
// charged against. Invariant natively: the program reads back exactly as
// attached, and nothing past it changes. Run many times, so a corrupted
// heap shows.
#include <linux/filter.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common.h"

enum { N = 512 };

int main(void) {
  static struct sock_filter prog[N], back[N + 16];
  // N-1 loads of a distinct constant, then "return the packet length".
  for (int i = 0; i < N - 1; i++) prog[i] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_IMM, 0x5a5a0000u + i);
  prog[N - 1] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, 0xffff);
  struct sock_fprog fprog = {N, prog};
  int s = socket(AF_INET, SOCK_DGRAM, 0);
  if (s < 0 || setsockopt(s, SOL_SOCKET, SO_ATTACH_FILTER, &fprog, sizeof fprog) != 0) {
    printf("attach: %s\n", errname(errno));
    return 1;
  }
  int same = 0, intact = 0, counted = 0;
  for (int round = 0; round < 64; round++) {
    memset(back, 0xa5, sizeof back);
    socklen_t len = N + round % 16;  // instructions, at least the program's
    if (getsockopt(s, SOL_SOCKET, SO_GET_FILTER, back, &len) != 0) {
      printf("round %d: %s\n", round, errname(errno));
      return 1;
    }
    counted += len == N;
    same += memcmp(back, prog, sizeof prog) == 0;
    unsigned char* tail = (unsigned char*)&back[N];
    int untouched = 1;
    for (size_t i = 0; i < 16 * sizeof(struct sock_filter); i++) untouched &= tail[i] == 0xa5;
    intact += untouched;
  }
  printf("64 reads: the count %d times, the program %d times, nothing past it %d times\n",
         counted, same, intact);
  // A length below the program is EINVAL and writes nothing.
  memset(back, 0xa5, sizeof back);
  socklen_t len = N - 1;
  SHOW(getsockopt(s, SOL_SOCKET, SO_GET_FILTER, back, &len));
  printf("after EINVAL: length %u, buffer %s\n", (unsigned)len,
         ((unsigned char*)back)[0] == 0xa5 ? "untouched" : "written");
  return 0;
}
