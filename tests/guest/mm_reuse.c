// A fresh mapping must read zeros and must not reach memory another mapping
// owns, when virtual addresses and the memory behind them are handed out
// again in a different pairing: mmap at R, munmap, mmap at R2 (elfuse may
// give R2 the memory R had), mmap at R again. elfuse once mapped whole 2 MiB
// blocks with 2 MiB guest pages, and KVM's shadow MMU kept R linked to the
// shadow of R's old 2 MiB frame, which now belonged to R2: R read and wrote
// R2's pages. The threaded part is how CPython's test_threading met it:
// thread stacks freed and mapped again while other threads run, each thread
// checking that its stack and TLS hold only its own values.
#include <pthread.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common.h"

#define M2 (2ul << 20)

static int count_not(const char* p, unsigned long len, char want) {
  int n = 0;
  for (unsigned long i = 0; i < len; i += 4096) n += p[i] != want;
  return n;
}

// Single thread: fixed addresses, sizes from 4 KiB to 6 MiB.
static void pairs(void) {
  char* R = (char*)0x500000000000ul;
  char* R2 = (char*)0x500040000000ul;
  const unsigned long sizes[] = {4096, M2, 3 * M2, M2 + 8192};
  for (unsigned s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
    unsigned long len = sizes[s];
    int stale = 0, clobbered = 0;
    for (int round = 0; round < 4; round++) {
      char* r = mmap(R, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
      memset(r, 'r', len);
      munmap(r, len);
      char* r2 =
          mmap(R2, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
      memset(r2, 'q', len);
      r = mmap(R, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
      stale += count_not(r, len, 0);
      memset(r, 'z', len);
      clobbered += count_not(r2, len, 'q');
      munmap(r, len);
      munmap(r2, len);
    }
    printf("%lu KiB: fresh pages not zero %d, other mapping's pages changed %d\n", len >> 10, stale,
           clobbered);
  }
}

// Threads: rounds of short-lived detached threads while a large reservation
// fills most of the memory elfuse starts with, so that stacks are freed and
// mapped again over memory in another pairing.
#define THREADS 12
static pthread_barrier_t barrier;
static __thread long mine;
static volatile int bad;

static void check(long id) {
  volatile long on_stack = id * 7;
  char* self = (char*)pthread_self();
  char* sp = (char*)&on_stack;
  if (mine != id || on_stack != id * 7 || sp > self || self - sp > (16l << 20)) bad = 1;
}

static void* worker(void* arg) {
  long id = (long)arg;
  mine = id;
  check(id);
  pthread_barrier_wait(&barrier);
  check(id);
  pthread_barrier_wait(&barrier);
  check(id);
  return NULL;
}

static void threads(void) {
  // Most of a 1 GiB pool, never touched.
  void* big = mmap(NULL, 900ul << 20, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_barrier_init(&barrier, NULL, THREADS + 1);
  long id = 1;
  for (int round = 0; round < 40 && !bad; round++) {
    for (int i = 0; i < THREADS; i++) {
      pthread_t t;
      if (pthread_create(&t, &attr, worker, (void*)id++) != 0) {
        printf("pthread_create failed\n");
        return;
      }
    }
    pthread_barrier_wait(&barrier);
    pthread_barrier_wait(&barrier);
    usleep(2000);  // the threads exit; their stacks go back to the cache or away
  }
  printf("threads: every thread saw only its own stack and TLS: %s\n", bad ? "NO" : "yes");
  munmap(big, 900ul << 20);
}

int main(void) {
  pairs();
  threads();
  return 0;
}
