// FUTEX_WAKE_OP on a private futex whose first address is NULL: the first key
// is only an address (never read), so the call operates on the second word and
// wakes nobody (0); a shared futex at NULL is EFAULT; a misaligned first
// address is EINVAL; an unmapped second word is EFAULT.
#include <stdint.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common.h"

#define FUTEX_WAKE_OP 5
#define FUTEX_PRIVATE_FLAG 128
#define FUTEX_OP_SET 0
#define FUTEX_OP_ADD 1
#define FUTEX_OP_OR 2
#define FUTEX_OP_XOR 4
#define FUTEX_OP(op, oparg, cmp, cmparg) \
  ((((op)&0xf) << 28) | (((cmp)&0xf) << 24) | (((oparg)&0xfff) << 12) | ((cmparg)&0xfff))

static long wake_op(uint32_t* a, int priv, uint32_t* b, int op) {
  return syscall(SYS_futex, a, FUTEX_WAKE_OP | (priv ? FUTEX_PRIVATE_FLAG : 0), 0, 0, b, op);
}

int main(void) {
  uint32_t b = 1;
  SHOW(wake_op(NULL, 1, &b, FUTEX_OP(FUTEX_OP_SET, 2, 0, 0)));
  printf("b = %u\n", b);
  SHOW(wake_op(NULL, 1, &b, FUTEX_OP(FUTEX_OP_ADD, 1, 0, 0)));
  printf("b = %u\n", b);
  b = 0xa;
  SHOW(wake_op(NULL, 1, &b, FUTEX_OP(FUTEX_OP_XOR, 0xc, 0, 0)));
  printf("b = %u\n", b);
  SHOW(wake_op((uint32_t*)(uintptr_t)0x1000, 1, &b, FUTEX_OP(FUTEX_OP_OR, 1, 0, 0)));
  printf("b = %u\n", b);
  SHOW(wake_op(NULL, 0, &b, FUTEX_OP(FUTEX_OP_SET, 2, 0, 0)));
  SHOW(wake_op((uint32_t*)(uintptr_t)2, 1, &b, FUTEX_OP(FUTEX_OP_SET, 2, 0, 0)));
  SHOW(wake_op(NULL, 1, NULL, FUTEX_OP(FUTEX_OP_SET, 2, 0, 0)));
  return 0;
}
