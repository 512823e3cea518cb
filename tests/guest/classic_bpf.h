// Classic BPF as the kernel defines it (include/uapi/linux/filter.h,
// bpf_common.h), for the guest tests that build filter programs: seccomp
// filters and socket filters. The musl build has no linux/ headers.
#ifndef ELFUSE_TESTS_GUEST_CLASSIC_BPF_H
#define ELFUSE_TESTS_GUEST_CLASSIC_BPF_H

#include <stdint.h>

struct sock_filter {
  uint16_t code;
  uint8_t jt, jf;
  uint32_t k;
};
struct sock_fprog {
  unsigned short len;
  struct sock_filter* filter;
};

#define BPF_LD 0x00
#define BPF_ALU 0x04
#define BPF_JMP 0x05
#define BPF_RET 0x06
#define BPF_W 0x00
#define BPF_H 0x08
#define BPF_IMM 0x00
#define BPF_ABS 0x20
#define BPF_LEN 0x80
#define BPF_MEM 0x60
#define BPF_DIV 0x30
#define BPF_JEQ 0x10
#define BPF_K 0x00
#define BPF_A 0x10
#define BPF_MAXINSNS 4096
#define BPF_STMT(code, k) \
  { (unsigned short)(code), 0, 0, k }
#define BPF_JUMP(code, k, jt, jf) \
  { (unsigned short)(code), jt, jf, k }

#endif
