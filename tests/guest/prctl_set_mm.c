// prctl(PR_SET_MM): kernel/sys.c prctl_set_mm checks arg4/arg5 (EINVAL),
// answers PR_SET_MM_MAP_SIZE with the size of struct prctl_mm_map, checks the
// PR_SET_MM_MAP size (EINVAL) and pointer (EFAULT), and refuses the other
// options to a caller without CAP_SYS_RESOURCE (EPERM). The capability is
// dropped from the effective set first, so that the native run agrees.
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common.h"

struct cap_header {
  uint32_t version;
  int pid;
};
struct cap_data {
  uint32_t effective, permitted, inheritable;
};
#define CAP_VERSION_3 0x20080522
#define CAP_SYS_RESOURCE 24
#define CAP_CHECKPOINT_RESTORE 40

int main(void) {
  struct cap_header h = {CAP_VERSION_3, 0};
  struct cap_data d[2];
  memset(d, 0, sizeof d);
  if (syscall(SYS_capget, &h, d) == 0) {
    d[CAP_SYS_RESOURCE / 32].effective &= ~(1u << (CAP_SYS_RESOURCE % 32));
    d[CAP_CHECKPOINT_RESTORE / 32].effective &= ~(1u << (CAP_CHECKPOINT_RESTORE % 32));
    syscall(SYS_capset, &h, d);
  }
  unsigned size = 0;
  SHOW(prctl(PR_SET_MM, PR_SET_MM_MAP_SIZE, &size, 0, 0));
  printf("size = %u\n", size);
  SHOW(prctl(PR_SET_MM, PR_SET_MM_MAP_SIZE, NULL, 0, 0));
  SHOW(prctl(PR_SET_MM, PR_SET_MM_MAP, NULL, 8, 0));
  SHOW(prctl(PR_SET_MM, PR_SET_MM_MAP, NULL, size, 0));
  SHOW(prctl(PR_SET_MM, PR_SET_MM_START_BRK, 0x1000000, 0, 0));
  SHOW(prctl(PR_SET_MM, PR_SET_MM_START_BRK, 0x1000000, 1, 0));
  SHOW(prctl(PR_SET_MM, PR_SET_MM_START_BRK, 0x1000000, 0, 1));
  SHOW(prctl(PR_SET_MM, PR_SET_MM_AUXV, 0, 8, 0));
  SHOW(prctl(PR_SET_MM, PR_SET_MM_EXE_FILE, 0, 0, 0));
  SHOW(prctl(PR_SET_MM, 99, 0, 0, 0));
  SHOW(prctl(PR_SET_MM, PR_SET_MM_ARG_START, 0x1000000, 0, 0));
  return 0;
}
