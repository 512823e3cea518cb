// elfuse starts and runs under a host address-space limit of a few GiB
// (`ulimit -v 4194304`, host_ulimit_v.ulimit; common in CI and systemd
// units): it sizes its reservation of guest memory to what the limit
// leaves. The program sees the limit it was started with, maps and touches
// memory, forks and starts threads as natively.
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"

#define MiB (1ul << 20)

static void* thread_fn(void* arg) {
  char* p = malloc(MiB);
  if (p) memset(p, 1, MiB);
  free(p);
  return arg;
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  struct rlimit as, data;
  getrlimit(RLIMIT_AS, &as);
  getrlimit(RLIMIT_DATA, &data);
  printf("RLIMIT_AS: %s%lu MiB\n", as.rlim_cur == RLIM_INFINITY ? "inf " : "",
         as.rlim_cur == RLIM_INFINITY ? 0 : (unsigned long)(as.rlim_cur / MiB));
  printf("RLIMIT_DATA: %s%lu MiB\n", data.rlim_cur == RLIM_INFINITY ? "inf " : "",
         data.rlim_cur == RLIM_INFINITY ? 0 : (unsigned long)(data.rlim_cur / MiB));
  // 512 MiB touched, in one mapping.
  char* p = mmap(NULL, 512 * MiB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  printf("mmap 512 MiB: %s\n", p == MAP_FAILED ? errname(errno) : "ok");
  if (p != MAP_FAILED) {
    for (unsigned long i = 0; i < 512 * MiB; i += 4096) p[i] = (char)i;
    printf("touched\n");
  }
  // More than the limit: ENOMEM, and the program goes on.
  // (Private writable: beyond both limits. A PROT_NONE reservation that
  // large fits RLIMIT_DATA, but not the guest-physical memory elfuse can
  // reserve under it: docs/internals.md "Resource limits".)
  void* q = mmap(NULL, 8192 * MiB, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  printf("mmap 8 GiB: %s\n", q == MAP_FAILED ? errname(errno) : "ok");
  if (q != MAP_FAILED) munmap(q, 8192 * MiB);
  pid_t pid = fork();
  if (pid == 0) {
    if (p != MAP_FAILED) p[4096] = 9;
    _exit(p != MAP_FAILED && p[0] == 0 ? 3 : 4);
  }
  int st = 0;
  waitpid(pid, &st, 0);
  printf("fork child: %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
  pthread_t t[4];
  for (int i = 0; i < 4; i++) {
    int e = pthread_create(&t[i], NULL, thread_fn, NULL);
    printf("pthread_create: %s\n", errname(e));
    if (e == 0) pthread_join(t[i], NULL);
  }
  return 0;
}
