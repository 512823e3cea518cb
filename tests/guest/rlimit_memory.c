// RLIMIT_DATA, RLIMIT_AS and RLIMIT_STACK set by the program: getrlimit
// reads them back, and brk/mmap/mremap/mprotect beyond them fail with ENOMEM
// as mm/mmap.c may_expand_vm and sys_brk's check_data_rlimit count, while
// fork, threads and small mappings go on working (gVisor's mmap.cc
// MMapTest.ExceedLimitData*).
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"

#define MiB (1ul << 20)

static void* thread_fn(void* arg) {
  volatile char buf[64 * 1024];
  buf[0] = 1;
  return arg;
}

static void show_limit(const char* name, int r) {
  struct rlimit l;
  if (getrlimit(r, &l) != 0) {
    printf("getrlimit(%s): %s\n", name, errname(errno));
    return;
  }
  printf("%s: soft %s%lu MiB\n", name, l.rlim_cur == RLIM_INFINITY ? "inf " : "",
         l.rlim_cur == RLIM_INFINITY ? 0 : (unsigned long)(l.rlim_cur / MiB));
}

// fork, pthread_create, malloc of a small block, a small mmap: all must work.
static void still_works(const char* when) {
  printf("-- %s\n", when);
  pid_t pid = fork();
  if (pid == 0) {
    void* p = mmap(NULL, MiB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    _exit(p == MAP_FAILED ? 1 : 0);
  }
  int st = 0;
  waitpid(pid, &st, 0);
  printf("fork child: %s %d\n", WIFEXITED(st) ? "exit" : "signal",
         WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
  pthread_t t;
  int e = pthread_create(&t, NULL, thread_fn, NULL);
  printf("pthread_create: %s\n", errname(e));
  if (e == 0) pthread_join(t, NULL);
  char* m = malloc(100 * 1024);
  CHECK(m != NULL);
  if (m) m[0] = 1;
  free(m);
  void* p = mmap(NULL, MiB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK(p != MAP_FAILED);
  if (p != MAP_FAILED) munmap(p, MiB);
}

static void data_limit(void) {
  struct rlimit old;
  getrlimit(RLIMIT_DATA, &old);
  struct rlimit l = {64 * MiB, old.rlim_max};
  OK(setrlimit(RLIMIT_DATA, &l));
  show_limit("RLIMIT_DATA", RLIMIT_DATA);
  // Private writable: data. Read-only, shared or growsdown: not data.
  void* p = mmap(NULL, 128 * MiB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  printf("mmap private rw 128 MiB: %s\n", p == MAP_FAILED ? errname(errno) : "ok");
  if (p != MAP_FAILED) munmap(p, 128 * MiB);
  void* ro = mmap(NULL, 128 * MiB, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  printf("mmap private ro 128 MiB: %s\n", ro == MAP_FAILED ? errname(errno) : "ok");
  void* sh = mmap(NULL, 128 * MiB, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  printf("mmap shared rw 128 MiB: %s\n", sh == MAP_FAILED ? errname(errno) : "ok");
  if (sh != MAP_FAILED) munmap(sh, 128 * MiB);
  if (ro != MAP_FAILED) {
    errno = 0;
    printf("mprotect ro -> rw: %s\n",
           mprotect(ro, 128 * MiB, PROT_READ | PROT_WRITE) ? errname(errno) : "ok");
    printf("mprotect 1 MiB of it rw: %s\n",
           mprotect(ro, MiB, PROT_READ | PROT_WRITE) ? errname(errno) : "ok");
    munmap(ro, 128 * MiB);
  }
  // brk: the heap plus the data segment against the limit.
  void* cur = sbrk(0);
  errno = 0;
  void* r = sbrk(128 * MiB);
  printf("sbrk(128 MiB): %s\n", r == (void*)-1 ? errname(errno) : "ok");
  CHECK(sbrk(0) == cur);
  r = sbrk(MiB);
  printf("sbrk(1 MiB): %s\n", r == (void*)-1 ? errname(errno) : "ok");
  if (r != (void*)-1) sbrk(-(intptr_t)MiB);
  // mremap growing a data mapping past the limit.
  void* q = mmap(NULL, MiB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (q != MAP_FAILED) {
    void* g = mremap(q, MiB, 128 * MiB, MREMAP_MAYMOVE);
    printf("mremap 1 -> 128 MiB: %s\n", g == MAP_FAILED ? errname(errno) : "ok");
    munmap(g == MAP_FAILED ? q : g, g == MAP_FAILED ? MiB : 128 * MiB);
  }
  still_works("under RLIMIT_DATA 64 MiB");
  // A soft limit of 0 with a larger hard limit: the kernel lets data grow
  // to the hard limit (its valgrind workaround).
  l.rlim_cur = 0;
  l.rlim_max = old.rlim_max == RLIM_INFINITY ? RLIM_INFINITY : old.rlim_max;
  OK(setrlimit(RLIMIT_DATA, &l));
  p = mmap(NULL, MiB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  printf("soft 0: mmap private rw 1 MiB: %s\n", p == MAP_FAILED ? errname(errno) : "ok");
  if (p != MAP_FAILED) munmap(p, MiB);
  OK(setrlimit(RLIMIT_DATA, &old));
  show_limit("RLIMIT_DATA", RLIMIT_DATA);
}

static void as_limit(void) {
  struct rlimit old;
  getrlimit(RLIMIT_AS, &old);
  struct rlimit l = {1024 * MiB, old.rlim_max};
  OK(setrlimit(RLIMIT_AS, &l));
  show_limit("RLIMIT_AS", RLIMIT_AS);
  void* p = mmap(NULL, 2048 * MiB, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  printf("mmap 2 GiB PROT_NONE: %s\n", p == MAP_FAILED ? errname(errno) : "ok");
  if (p != MAP_FAILED) munmap(p, 2048 * MiB);
  p = mmap(NULL, 64 * MiB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  printf("mmap 64 MiB: %s\n", p == MAP_FAILED ? errname(errno) : "ok");
  if (p != MAP_FAILED) {
    // MAP_FIXED over itself replaces pages: no growth.
    void* f = mmap(p, 64 * MiB, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    printf("mmap MAP_FIXED over it: %s\n", f == MAP_FAILED ? errname(errno) : "ok");
    void* g = mremap(p, 64 * MiB, 2048 * MiB, MREMAP_MAYMOVE);
    printf("mremap 64 MiB -> 2 GiB: %s\n", g == MAP_FAILED ? errname(errno) : "ok");
    munmap(g == MAP_FAILED ? p : g, g == MAP_FAILED ? 64 * MiB : 2048 * MiB);
  }
  void* r = sbrk(2048 * MiB);
  printf("sbrk(2 GiB): %s\n", r == (void*)-1 ? errname(errno) : "ok");
  still_works("under RLIMIT_AS 1 GiB");
  OK(setrlimit(RLIMIT_AS, &old));
  show_limit("RLIMIT_AS", RLIMIT_AS);
}

static void stack_limit(void) {
  struct rlimit old, now;
  getrlimit(RLIMIT_STACK, &old);
  struct rlimit l = {16 * MiB, old.rlim_max};
  OK(setrlimit(RLIMIT_STACK, &l));
  getrlimit(RLIMIT_STACK, &now);
  CHECK(now.rlim_cur == 16 * MiB && now.rlim_max == old.rlim_max);
  l.rlim_cur = old.rlim_max == RLIM_INFINITY ? RLIM_INFINITY : old.rlim_max + 1;
  l.rlim_max = old.rlim_max;
  if (old.rlim_max != RLIM_INFINITY) SHOW(setrlimit(RLIMIT_STACK, &l));  // cur > max: EINVAL
  OK(setrlimit(RLIMIT_STACK, &old));
  // The limit is inherited by a child.
  l.rlim_cur = 12 * MiB;
  l.rlim_max = old.rlim_max;
  setrlimit(RLIMIT_STACK, &l);
  pid_t pid = fork();
  if (pid == 0) {
    getrlimit(RLIMIT_STACK, &now);
    _exit(now.rlim_cur == 12 * MiB ? 0 : 1);
  }
  int st = 0;
  waitpid(pid, &st, 0);
  printf("child inherits RLIMIT_STACK: %s\n", WIFEXITED(st) && WEXITSTATUS(st) == 0 ? "yes" : "NO");
  setrlimit(RLIMIT_STACK, &old);
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  data_limit();
  as_limit();
  stack_limit();
  SHOW(getrlimit(99, &(struct rlimit){0, 0}));
  SHOW(setrlimit(RLIMIT_DATA, &(struct rlimit){2, 1}));
  return 0;
}
