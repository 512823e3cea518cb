// capget and capset: versions (v1 one struct, v3 two), an unknown version
// (the kernel writes its own back and fails EINVAL), NULL data as a version
// probe, another process, a bad pid, capset of the current sets, EFAULT.
#include <stdint.h>
#include <sys/syscall.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"

// linux/capability.h (musl-gcc has no kernel headers).
#define _LINUX_CAPABILITY_VERSION_1 0x19980330
#define _LINUX_CAPABILITY_VERSION_3 0x20080522
struct __user_cap_header_struct {
  uint32_t version;
  int pid;
};
struct __user_cap_data_struct {
  uint32_t effective, permitted, inheritable;
};

static long capget_(struct __user_cap_header_struct* h, struct __user_cap_data_struct* d) {
  return syscall(SYS_capget, h, d);
}

int main(void) {
  struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct d[2], d1[2];
  memset(d, 0xa5, sizeof d);
  OK(capget_(&h, d));
  printf("v3: effective==permitted %d inheritable %#x %#x\n",
         d[0].effective == d[0].permitted && d[1].effective == d[1].permitted, d[0].inheritable,
         d[1].inheritable);
  h.version = _LINUX_CAPABILITY_VERSION_1;
  memset(d1, 0xa5, sizeof d1);
  OK(capget_(&h, d1));
  printf("v1: same low word %d, second struct untouched %d\n", d1[0].effective == d[0].effective,
         d1[1].effective == 0xa5a5a5a5u);
  h.version = 0x12345678;
  SHOW(capget_(&h, d));
  printf("version written back %#x\n", h.version);
  h.version = 0x12345678;
  SHOW(capget_(&h, NULL));
  printf("version written back %#x\n", h.version);
  h.version = _LINUX_CAPABILITY_VERSION_3;
  SHOW(capget_(&h, NULL));
  h.pid = getpid();
  OK(capget_(&h, d1));
  CHECK(memcmp(d, d1, sizeof d) == 0);
  pid_t child = fork();
  if (child == 0) {
    pause();
    _exit(0);
  }
  h.pid = child;
  OK(capget_(&h, d1));
  CHECK(memcmp(d, d1, sizeof d) == 0);
  kill(child, SIGKILL);
  waitpid(child, NULL, 0);
  h.pid = child;
  SHOW(capget_(&h, d1));
  h.pid = -5;
  SHOW(capget_(&h, d1));
  h.pid = 0;
  SHOW(capget_(&h, (void*)8));
  SHOW(capget_((void*)8, d1));
  // capset of what the thread has already: allowed.
  OK(syscall(SYS_capset, &h, d));
  SHOW(syscall(SYS_capset, &h, (void*)8));
  h.version = 1;
  SHOW(syscall(SYS_capset, &h, d));
  printf("version written back %#x\n", h.version);
  return 0;
}
