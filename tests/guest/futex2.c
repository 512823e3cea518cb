// futex2 (kernel/futex/syscalls.c, Linux 6.7): futex_wake, futex_wait and
// futex_requeue between threads, timeouts on both clocks, and the argument
// checks in the kernel's order (flags, sizes, values and masks wider than
// 32 bits, the timeout, a zero mask, alignment, unmapped words).
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

#define NR_futex_wake 454
#define NR_futex_wait 455
#define NR_futex_requeue 456

#define F2_U8 0x00
#define F2_U16 0x01
#define F2_U32 0x02
#define F2_U64 0x03
#define F2_NUMA 0x04
#define F2_MPOL 0x08
#define F2_PRIVATE 0x80

struct waitv {
  uint64_t val;
  uint64_t uaddr;
  uint32_t flags;
  uint32_t reserved;
};

static long fwake(void* p, unsigned long mask, int nr, unsigned flags) {
  return syscall(NR_futex_wake, p, mask, nr, flags);
}
static long fwait(void* p, unsigned long val, unsigned long mask, unsigned flags,
                  const struct timespec* ts, int clock) {
  return syscall(NR_futex_wait, p, val, mask, flags, ts, clock);
}
static long frequeue(struct waitv* w, unsigned flags, int nr_wake, int nr_requeue) {
  return syscall(NR_futex_requeue, w, flags, nr_wake, nr_requeue);
}

static uint32_t word1, word2;
static uint64_t numa_word __attribute__((aligned(8)));

static struct timespec after_ms(int clock, long ms) {
  struct timespec t;
  clock_gettime(clock, &t);
  t.tv_nsec += ms * 1000000;
  t.tv_sec += t.tv_nsec / 1000000000;
  t.tv_nsec %= 1000000000;
  return t;
}

static void* waiter(void* arg) {
  uint32_t* w = arg;
  // Waits until woken (a 10 s bound only to keep a lost wake from hanging).
  struct timespec t = after_ms(CLOCK_MONOTONIC, 10000);
  long r;
  do {
    errno = 0;
    r = fwait(w, 0, 0xffffffff, F2_U32 | F2_PRIVATE, &t, CLOCK_MONOTONIC);
  } while (r < 0 && errno == EAGAIN && __atomic_load_n(w, __ATOMIC_SEQ_CST) == 0);
  return (void*)(long)(r < 0 ? -errno : r);
}

// Gives the other threads time to go to sleep; the callers retry until
// the count they expect was woken or moved.
static void settle(void) {
  struct timespec d = {0, 50 * 1000000};
  nanosleep(&d, NULL);
}

static void threads(void) {
  printf("-- wake and wait between threads\n");
  pthread_t t[3];
  for (int i = 0; i < 3; i++) pthread_create(&t[i], NULL, waiter, &word1);
  settle();
  long woken = 0;
  for (int tries = 0; tries < 200 && woken < 1; tries++) {
    woken += fwake(&word1, 0xffffffff, 1, F2_U32 | F2_PRIVATE);
    if (woken < 1) settle();
  }
  printf("woke %ld of 1\n", woken);
  // The other two go to word2, then are woken there.
  struct waitv rq[2] = {{0, (uintptr_t)&word1, F2_U32 | F2_PRIVATE, 0},
                        {0, (uintptr_t)&word2, F2_U32 | F2_PRIVATE, 0}};
  settle();
  long moved = 0;
  for (int tries = 0; tries < 200 && moved < 2; tries++) {
    long r = frequeue(rq, 0, 0, 2);
    if (r > 0) moved += r;
    if (moved < 2) settle();
  }
  printf("requeued %ld of 2\n", moved);
  printf("wake on word1 after requeue = %ld\n", fwake(&word1, 0xffffffff, 10, F2_U32 | F2_PRIVATE));
  __atomic_store_n(&word2, 0, __ATOMIC_SEQ_CST);
  long w2 = 0;
  for (int tries = 0; tries < 200 && w2 < 2; tries++) {
    w2 += fwake(&word2, 0xffffffff, 10, F2_U32 | F2_PRIVATE);
    if (w2 < 2) settle();
  }
  printf("woke %ld on word2\n", w2);
  for (int i = 0; i < 3; i++) {
    void* r;
    pthread_join(t[i], &r);
    printf("waiter returned %ld\n", (long)r);
  }
}

static void masks(void) {
  printf("-- bitset masks\n");
  pthread_t t;
  word1 = 0;
  pthread_create(&t, NULL, waiter, &word1);  // waits with mask 0xffffffff
  settle();
  errno = 0;
  long z = fwake(&word1, 0, 1, F2_U32 | F2_PRIVATE);
  printf("mask 0x0 wake = %ld %s\n", z, errname(errno));
  long r = 0;
  for (int tries = 0; tries < 200 && r < 1; tries++) {
    r = fwake(&word1, 0x80000000, 1, F2_U32 | F2_PRIVATE);
    if (r < 1) settle();
  }
  printf("high-bit wake = %ld\n", r);
  void* rv;
  pthread_join(t, &rv);
  printf("waiter returned %ld\n", (long)rv);
}

static void timeouts(void) {
  printf("-- timeouts\n");
  word1 = 0;
  struct timespec t = after_ms(CLOCK_MONOTONIC, 30);
  SHOW(fwait(&word1, 0, 0xffffffff, F2_U32 | F2_PRIVATE, &t, CLOCK_MONOTONIC));
  t = after_ms(CLOCK_REALTIME, 30);
  SHOW(fwait(&word1, 0, 0xffffffff, F2_U32 | F2_PRIVATE, &t, CLOCK_REALTIME));
  t = after_ms(CLOCK_MONOTONIC, 30);
  SHOW(fwait(&word1, 0, 0xffffffff, F2_U32, &t, CLOCK_MONOTONIC));  // shared
  struct timespec past = {0, 0};
  SHOW(fwait(&word1, 0, 0xffffffff, F2_U32 | F2_PRIVATE, &past, CLOCK_MONOTONIC));
  SHOW(fwait(&word1, 1, 0xffffffff, F2_U32 | F2_PRIVATE, NULL, 0));  // value differs
  struct timespec bad = {0, 1000000000};
  SHOW(fwait(&word1, 0, 0xffffffff, F2_U32 | F2_PRIVATE, &bad, CLOCK_MONOTONIC));
  struct timespec neg = {-1, 0};
  SHOW(fwait(&word1, 0, 0xffffffff, F2_U32 | F2_PRIVATE, &neg, CLOCK_MONOTONIC));
  t = after_ms(CLOCK_MONOTONIC, 30);
  SHOW(fwait(&word1, 0, 0xffffffff, F2_U32 | F2_PRIVATE, &t, CLOCK_BOOTTIME));
  SHOW(fwait(&word1, 0, 0xffffffff, F2_U32 | F2_PRIVATE, &t, CLOCK_PROCESS_CPUTIME_ID));
  SHOW(fwait(&word1, 0, 0xffffffff, F2_U32 | F2_PRIVATE, (void*)8, CLOCK_MONOTONIC));
  SHOW(fwait(&word1, 1, 0xffffffff, F2_U32 | F2_PRIVATE, NULL, 12345));  // no timeout: no clock
}

static void errors(void) {
  printf("-- wake errors\n");
  unsigned sizes[] = {
      F2_U8, F2_U16, F2_U64, F2_U32 | 0x10, F2_U32 | 0x40, F2_U32 | 0x100, F2_U32 | 0x80000000u};
  for (unsigned i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    errno = 0;
    long r = fwake(&word1, 1, 1, sizes[i]);
    printf("flags %#x: wake %ld %s\n", sizes[i], r, errname(errno));
  }
  SHOW(fwake(&word1, 1UL << 32, 1, F2_U32 | F2_PRIVATE));
  SHOW(fwake(&word1, 0, 1, F2_U32));
  SHOW(fwake((char*)&word1 + 2, 1, 1, F2_U32 | F2_PRIVATE));
  SHOW(fwake((void*)8, 1, 1, F2_U32 | F2_PRIVATE));  // private: nobody there
  SHOW(fwake((void*)8, 1, 1, F2_U32));               // shared: the page is looked up
  SHOW(fwake((void*)9, 1, 1, F2_U32));
  SHOW(fwake((void*)8, 0, 1, F2_U32));  // the mask before the word
  SHOW(fwake(&word1, 1, -1, F2_U32 | F2_PRIVATE));
  SHOW(fwake(&word1, 1, 0, F2_U32 | F2_PRIVATE));
  SHOW(fwake((void*)0x7ffffffffffc, 1, 1, F2_U32 | F2_PRIVATE));
  SHOW(fwake((void*)0xfffffffffffffff0, 1, 1, F2_U32 | F2_PRIVATE));
  char* none = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  SHOW(fwake(none, 1, 1, F2_U32 | F2_PRIVATE));
  SHOW(fwake(none, 1, 1, F2_U32));
  printf("-- wait errors\n");
  SHOW(fwait(&word1, 0, 1, F2_U16 | F2_PRIVATE, NULL, 0));
  SHOW(fwait(&word1, 1UL << 32, 1, F2_U32 | F2_PRIVATE, NULL, 0));
  SHOW(fwait(&word1, 0, 1UL << 32, F2_U32 | F2_PRIVATE, NULL, 0));
  SHOW(fwait(&word1, 0, 0, F2_U32 | F2_PRIVATE, NULL, 0));
  SHOW(fwait((void*)8, 0, 0, F2_U32 | F2_PRIVATE, (void*)8, CLOCK_MONOTONIC));  // timeout first
  SHOW(fwait((void*)8, 0, 1, F2_U32 | F2_PRIVATE, NULL, 0));
  SHOW(fwait((char*)&word1 + 1, 0, 1, F2_U32 | F2_PRIVATE, NULL, 0));
  SHOW(fwait(none, 0, 1, F2_U32 | F2_PRIVATE, NULL, 0));
  printf("-- requeue errors\n");
  struct waitv rq[2] = {{0, (uintptr_t)&word1, F2_U32 | F2_PRIVATE, 0},
                        {0, (uintptr_t)&word2, F2_U32 | F2_PRIVATE, 0}};
  SHOW(frequeue(rq, 1, 1, 1));
  SHOW(frequeue(NULL, 0, 1, 1));
  SHOW(frequeue((void*)8, 0, 1, 1));
  SHOW(frequeue(rq, 0, -1, 1));
  SHOW(frequeue(rq, 0, 1, -1));
  SHOW(frequeue(rq, 0, 1, 1));
  rq[0].val = 5;
  SHOW(frequeue(rq, 0, 1, 1));  // the first word is not 5
  rq[0].val = 1UL << 32;
  SHOW(frequeue(rq, 0, 1, 1));
  rq[0].val = 0;
  rq[1].reserved = 1;
  SHOW(frequeue(rq, 0, 1, 1));
  rq[1].reserved = 0;
  rq[1].flags = F2_U8;
  SHOW(frequeue(rq, 0, 1, 1));
  rq[1].flags = F2_U32 | F2_PRIVATE;
  rq[0].uaddr = 8;
  SHOW(frequeue(rq, 0, 1, 1));
  rq[0].uaddr = (uintptr_t)&word1 + 2;
  SHOW(frequeue(rq, 0, 1, 1));
  rq[0].uaddr = (uintptr_t)&word1;
  rq[1].uaddr = (uintptr_t)&word2 + 1;
  SHOW(frequeue(rq, 0, 1, 1));
  // The first entry invalid, the second unreadable: the first's EINVAL.
  struct waitv* edge = (struct waitv*)(none - sizeof(struct waitv));
  char* before = mmap(none - 4096, 4096, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  if (before == none - 4096) {
    edge->val = 0;
    edge->uaddr = (uintptr_t)&word1;
    edge->flags = F2_U8;
    edge->reserved = 0;
    SHOW(frequeue(edge, 0, 1, 1));
    edge->flags = F2_U32 | F2_PRIVATE;
    SHOW(frequeue(edge, 0, 1, 1));
  } else {
    printf("no page before\n");
  }
}

static void numa(void) {
  printf("-- FUTEX2_NUMA\n");
  numa_word = 0xffffffff00000000ull;  // value 0, node -1 (any)
  SHOW(fwake(&numa_word, 1, 1, F2_U32 | F2_NUMA | F2_PRIVATE));
  SHOW(fwake((char*)&numa_word + 4, 1, 1, F2_U32 | F2_NUMA | F2_PRIVATE));  // 8-aligned
  SHOW(fwake((void*)8, 1, 1, F2_U32 | F2_NUMA | F2_PRIVATE));               // the node is read
  struct timespec t = after_ms(CLOCK_MONOTONIC, 20);
  SHOW(fwait(&numa_word, 0, 0xffffffff, F2_U32 | F2_NUMA | F2_PRIVATE, &t, CLOCK_MONOTONIC));
  SHOW(fwait(&numa_word, 1, 0xffffffff, F2_U32 | F2_NUMA | F2_PRIVATE, NULL, 0));
  numa_word = 0x0000100000000000ull;  // node 4096: no such node
  SHOW(fwake(&numa_word, 1, 1, F2_U32 | F2_NUMA | F2_PRIVATE));
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  threads();
  masks();
  timeouts();
  errors();
  numa();
  return 0;
}
