// sched_setattr/sched_getattr (struct sizes, E2BIG with the size written
// back, EINVAL/ESRCH/EFAULT orders, a nice value set through the struct)
// and ioprio_get/ioprio_set.
#include <sched.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common.h"

struct attr {
  uint32_t size, policy;
  uint64_t flags;
  int32_t nice;
  uint32_t priority;
  uint64_t runtime, deadline, period;
  uint32_t util_min, util_max;
  unsigned char extra[64];
};

static void print(const char* what, struct attr* a) {
  printf("%s: size %u policy %u flags %lu nice %d prio %u\n", what, a->size, a->policy,
         (unsigned long)a->flags, a->nice, a->priority);
}

int main(void) {
  struct attr a;
  memset(&a, 0, sizeof a);
  SHOW(syscall(SYS_sched_getattr, 0, &a, 48, 0));
  print("ver0", &a);
  memset(&a, 0xee, sizeof a);
  SHOW(syscall(SYS_sched_getattr, 0, &a, sizeof a, 0));
  print("big", &a);
  printf("byte after: %x\n", ((unsigned char*)&a)[a.size]);
  SHOW(syscall(SYS_sched_getattr, 0, &a, 47, 0));
  SHOW(syscall(SYS_sched_getattr, 0, &a, 4097, 0));
  SHOW(syscall(SYS_sched_getattr, 0, &a, 48, 1));
  SHOW(syscall(SYS_sched_getattr, -1, &a, 48, 0));
  SHOW(syscall(SYS_sched_getattr, 0, NULL, 48, 0));
  SHOW(syscall(SYS_sched_getattr, 0, (void*)8, 48, 0));
  SHOW(syscall(SYS_sched_getattr, 0, (void*)0x7ffffffff000, 4096, 0));
  SHOW(syscall(SYS_sched_getattr, 999999, &a, 48, 0));
  SHOW(syscall(SYS_sched_getattr, 999999, (void*)8, 48, 0));
  SHOW(syscall(SYS_sched_getattr, gettid(), &a, 48, 0));

  // Set nice 5 through SCHED_OTHER.
  memset(&a, 0, sizeof a);
  a.size = 48;
  a.policy = SCHED_OTHER;
  a.nice = 5;
  SHOW(syscall(SYS_sched_setattr, 0, &a, 0));
  memset(&a, 0, sizeof a);
  SHOW(syscall(SYS_sched_getattr, 0, &a, 48, 0));
  print("after", &a);
  // size 0 means VER0.
  memset(&a, 0, sizeof a);
  a.nice = 6;
  SHOW(syscall(SYS_sched_setattr, 0, &a, 0));
  SHOW(syscall(SYS_sched_getattr, 0, &a, 48, 0));
  print("size0", &a);
  // Too small, too large, non-zero tail: E2BIG with the kernel's size back.
  memset(&a, 0, sizeof a);
  a.size = 40;
  SHOW(syscall(SYS_sched_setattr, 0, &a, 0));
  printf("size back %u\n", a.size);
  a.size = 5000;
  SHOW(syscall(SYS_sched_setattr, 0, &a, 0));
  printf("size back %u\n", a.size);
  a.size = sizeof a;
  a.extra[10] = 1;
  SHOW(syscall(SYS_sched_setattr, 0, &a, 0));
  printf("size back %u\n", a.size);
  a.extra[10] = 0;
  a.size = sizeof a;
  a.nice = 7;
  SHOW(syscall(SYS_sched_setattr, 0, &a, 0));
  SHOW(syscall(SYS_sched_setattr, 0, NULL, 0));
  SHOW(syscall(SYS_sched_setattr, -1, &a, 0));
  SHOW(syscall(SYS_sched_setattr, 0, &a, 1));
  SHOW(syscall(SYS_sched_setattr, 0, (void*)8, 0));
  SHOW(syscall(SYS_sched_setattr, 999999, &a, 0));
  a.policy = 77;
  SHOW(syscall(SYS_sched_setattr, 0, &a, 0));
  a.policy = (uint32_t)-1;
  SHOW(syscall(SYS_sched_setattr, 0, &a, 0));
  // A struct whose tail is unmapped.
  char* m = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  munmap(m + 4096, 4096);
  struct attr* edge = (struct attr*)(m + 4096 - 48);
  memset(edge, 0, 48);
  edge->size = 56;
  SHOW(syscall(SYS_sched_setattr, 0, edge, 0));
  edge->size = 48;
  SHOW(syscall(SYS_sched_setattr, 0, edge, 0));
  SHOW(syscall(SYS_sched_getattr, 0, edge, 56, 0));
  SHOW(syscall(SYS_sched_getattr, 0, edge, 48, 0));
  SHOW(getpriority(PRIO_PROCESS, 0));

  // I/O priorities: IOPRIO_WHO_PROCESS = 1; class BE (2) level 4.
  SHOW(syscall(SYS_ioprio_get, 1, 0));
  SHOW(syscall(SYS_ioprio_set, 1, 0, (2 << 13) | 4));
  SHOW(syscall(SYS_ioprio_get, 1, 0));
  SHOW(syscall(SYS_ioprio_get, 1, getpid()));
  SHOW(syscall(SYS_ioprio_set, 1, 0, (2 << 13) | 9));
  SHOW(syscall(SYS_ioprio_set, 1, 0, (5 << 13)));
  SHOW(syscall(SYS_ioprio_set, 9, 0, (2 << 13)));
  SHOW(syscall(SYS_ioprio_get, 9, 0));
  SHOW(syscall(SYS_ioprio_get, 1, 999999));
  SHOW(syscall(SYS_ioprio_get, 2, 0));
  SHOW(syscall(SYS_ioprio_set, 1, 0, (3 << 13)));
  SHOW(syscall(SYS_ioprio_get, 1, 0));
  return 0;
}
