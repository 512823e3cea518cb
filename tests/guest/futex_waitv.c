// futex_waitv(2): wait on several futex words; woken on one, the index of
// that one comes back; a word whose value differs is EAGAIN at once; bad
// arguments are EINVAL/EFAULT; an absolute timeout is ETIMEDOUT.
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

#ifndef SYS_futex_waitv
#define SYS_futex_waitv 449
#endif

struct waitv {
  uint64_t val;
  uint64_t uaddr;
  uint32_t flags;
  uint32_t reserved;
};

static uint32_t words[2];

static void* waker(void* arg) {
  usleep(20000);
  __atomic_store_n(&words[1], 1, __ATOMIC_SEQ_CST);
  syscall(SYS_futex, &words[1], 1 /* FUTEX_WAKE */ | 128, 1, NULL, NULL, 0);
  return NULL;
}

int main(void) {
  struct waitv w[2] = {{0, (uintptr_t)&words[0], 2 | 128, 0}, {0, (uintptr_t)&words[1], 2 | 128, 0}};
  pthread_t t;
  pthread_create(&t, NULL, waker, NULL);
  long r;
  do r = syscall(SYS_futex_waitv, w, 2, 0, NULL, 0);
  while (r < 0 && errno == EAGAIN && words[1] == 0);
  printf("woken index: %ld (word1 %u)\n", r < 0 ? -1L : r, words[1]);
  pthread_join(t, NULL);

  SHOW(syscall(SYS_futex_waitv, w, 2, 0, NULL, 0));  // word1 is 1, expected 0: EAGAIN
  w[1].val = 1;
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  ts.tv_nsec += 10 * 1000 * 1000;
  if (ts.tv_nsec >= 1000000000) ts.tv_sec++, ts.tv_nsec -= 1000000000;
  SHOW(syscall(SYS_futex_waitv, w, 2, 0, &ts, CLOCK_MONOTONIC));
  SHOW(syscall(SYS_futex_waitv, w, 2, 0, &ts, 12345));
  SHOW(syscall(SYS_futex_waitv, w, 0, 0, NULL, 0));
  SHOW(syscall(SYS_futex_waitv, w, 129, 0, NULL, 0));
  SHOW(syscall(SYS_futex_waitv, NULL, 2, 0, NULL, 0));
  SHOW(syscall(SYS_futex_waitv, w, 2, 1, NULL, 0));
  SHOW(syscall(SYS_futex_waitv, (void*)8, 2, 0, NULL, 0));
  w[0].flags = 3;
  SHOW(syscall(SYS_futex_waitv, w, 2, 0, NULL, 0));
  w[0].flags = 2 | 128;
  w[0].reserved = 1;
  SHOW(syscall(SYS_futex_waitv, w, 2, 0, NULL, 0));
  w[0].reserved = 0;
  w[0].uaddr = 8;
  SHOW(syscall(SYS_futex_waitv, w, 2, 0, NULL, 0));
  w[0].uaddr = (uintptr_t)&words[0] + 1;
  SHOW(syscall(SYS_futex_waitv, w, 2, 0, NULL, 0));
  return 0;
}
