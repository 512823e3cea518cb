// Fresh memory is fresh, and one mapping never shows another's memory, when
// the memory behind a mapping is reused at other addresses: munmap, then a
// mapping elsewhere, then a new mapping at the old address. Under elfuse the
// freed guest-physical run goes to the next mapping, so this is exactly the
// case where KVM's shadow of the old address could still lead to the run
// that now belongs to another address (docs/internals.md, "Page tables and
// shadow invalidation"). Part 2 does it from several threads at once (as
// thread stacks are recycled) while the main thread maps enough memory to
// make elfuse grow its guest-physical pool (a new KVM memslot) several times.
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define PAGE 4096ul
#define M2 (2ul << 20)
// Pages are touched at this stride: a translation that leads elsewhere shows
// on every page touched through it, and first touches are slow in a VM.
#define STRIDE (16 * PAGE)

static char* map_at(uintptr_t addr, size_t len, int fixed) {
  char* p = mmap((void*)addr, len, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | (fixed ? MAP_FIXED : 0), -1, 0);
  if (p == MAP_FAILED) {
    perror("mmap");
    exit(90);
  }
  return p;
}

static void fill(char* p, size_t len, char v) {
  for (size_t i = 0; i < len; i += STRIDE) p[i] = p[i + PAGE - 1] = v;
}

static long pages_not(const char* p, size_t len, char want) {
  long n = 0;
  for (size_t i = 0; i < len; i += STRIDE)
    if (p[i] != want || p[i + PAGE - 1] != want) n++;
  return n;
}

// Part 1: a (filled, unmapped), b elsewhere (filled), c at a's address.
static void reuse_one_thread(size_t len) {
  long dirty_c = 0, changed_b = 0;
  for (int round = 0; round < 12; round++) {
    char* a = map_at(0, len, 0);
    fill(a, len, 0x11);
    munmap(a, len);
    char* b = map_at(0x500000000000ul + (uintptr_t)round * 0x40000000ul, len, 0);
    fill(b, len, 0x22);
    char* c = map_at((uintptr_t)a, len, 1);
    dirty_c += pages_not(c, len, 0);
    fill(c, len, 0x33);
    changed_b += pages_not(b, len, 0x22);
    munmap(b, len);
    munmap(c, len);
  }
  printf("one thread, %zu KiB: fresh pages not zero %ld, pages of b changed %ld\n", len >> 10,
         dirty_c, changed_b);
}

// Part 2.
#define WORKERS 4
#define SLOTS 3
#define ROUNDS 24
#define REGION (4ul << 20)
#define CHUNK (1ul << 30)
#define CHUNKS 6

struct Worker {
  int id;
  long dirty, wrong, tls_wrong;
  pthread_t self;
};

static __thread int tls_id = -1;

// Each worker keeps SLOTS regions at its own addresses and replaces one per
// round, so memory a worker frees soon backs another worker's region while
// the first maps new memory at the old address.
static void* worker(void* arg) {
  struct Worker* w = arg;
  tls_id = w->id;
  w->self = pthread_self();
  char* live[SLOTS] = {0};
  char tags[SLOTS] = {0};
  for (int round = 0; round < ROUNDS; round++) {
    int slot = round % SLOTS;
    uintptr_t at = 0x600000000000ul + ((uintptr_t)(w->id * SLOTS + slot) << 26);
    if (live[slot]) munmap(live[slot], REGION);
    live[slot] = map_at(at, REGION, 0);
    w->dirty += pages_not(live[slot], REGION, 0);
    tags[slot] = (char)(0x40 + w->id * 16 + round % 16);
    fill(live[slot], REGION, tags[slot]);
    sched_yield();
    for (int i = 0; i < SLOTS; i++)
      if (live[i]) w->wrong += pages_not(live[i], REGION, tags[i]);
    if (tls_id != w->id || !pthread_equal(pthread_self(), w->self)) w->tls_wrong++;
  }
  for (int i = 0; i < SLOTS; i++) munmap(live[i], REGION);
  return NULL;
}

static void reuse_threads(void) {
  struct Worker workers[WORKERS];
  pthread_t threads[WORKERS];
  for (int i = 0; i < WORKERS; i++) {
    workers[i] = (struct Worker){.id = i};
    if (pthread_create(&threads[i], NULL, worker, &workers[i]) != 0) exit(91);
  }
  // Meanwhile: 1 GiB at a time (each one more than the pool has free),
  // touched sparsely.
  char* chunks[CHUNKS];
  long fresh_bad = 0;
  for (int c = 0; c < CHUNKS; c++) {
    chunks[c] = mmap(NULL, CHUNK, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (chunks[c] == MAP_FAILED) exit(92);
    for (size_t off = 0; off < CHUNK; off += 64 * M2) {
      if (chunks[c][off] != 0) fresh_bad++;
      chunks[c][off] = (char)(c + 1);
    }
  }
  for (int c = 0; c < CHUNKS; c++)
    for (size_t off = 0; off < CHUNK; off += 64 * M2)
      if (chunks[c][off] != (char)(c + 1)) fresh_bad++;
  printf("main thread: %d chunks of 1 GiB, pages wrong %ld\n", CHUNKS, fresh_bad);
  for (int i = 0; i < WORKERS; i++) {
    pthread_join(threads[i], NULL);
    printf("worker %d: fresh pages not zero %ld, pages changed under it %ld, tls wrong %ld\n", i,
           workers[i].dirty, workers[i].wrong, workers[i].tls_wrong);
  }
  for (int c = 0; c < CHUNKS; c++) munmap(chunks[c], CHUNK);
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  reuse_one_thread(M2);
  reuse_one_thread(4 * M2);
  reuse_one_thread(M2 + 5 * STRIDE);
  reuse_threads();
  return 0;
}
