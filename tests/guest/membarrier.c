// membarrier(2): QUERY (the host kernel's answer natively and under
// elfuse), the expedited commands before registration (EPERM) and after,
// GET_REGISTRATIONS, flags and bad commands (EINVAL), registrations across
// fork and execve, and a barrier with a second thread running. Compared
// with native.
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"

// include/uapi/linux/membarrier.h (musl-gcc has no kernel headers).
enum {
  MEMBARRIER_CMD_QUERY = 0,
  MEMBARRIER_CMD_GLOBAL = 1 << 0,
  MEMBARRIER_CMD_GLOBAL_EXPEDITED = 1 << 1,
  MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED = 1 << 2,
  MEMBARRIER_CMD_PRIVATE_EXPEDITED = 1 << 3,
  MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED = 1 << 4,
  MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE = 1 << 5,
  MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE = 1 << 6,
  MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ = 1 << 7,
  MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_RSEQ = 1 << 8,
};
#define GET_REGISTRATIONS (1 << 9)
#define FLAG_CPU 1

static long mb(int cmd, unsigned flags, int cpu) {
  return syscall(SYS_membarrier, cmd, flags, cpu);
}

static atomic_int stop;
static void* spin(void* arg) {
  (void)arg;
  while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
  }
  return NULL;
}

int main(int argc, char** argv) {
  setvbuf(stdout, NULL, _IONBF, 0);
  if (argc == 2 && strcmp(argv[1], "after-exec") == 0) {
    SHOW(mb(GET_REGISTRATIONS, 0, 0));
    SHOW(mb(MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0));
    SHOW(mb(MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE, 0, 0));
    SHOW(mb(MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ, 0, 0));
    SHOW(mb(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0));
    SHOW(mb(MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0));
    return 0;
  }
  long q = mb(MEMBARRIER_CMD_QUERY, 0, 0);
  printf("query %#lx\n", q);
  SHOW(mb(MEMBARRIER_CMD_QUERY, 1, 0));
  SHOW(mb(GET_REGISTRATIONS, 0, 0));
  SHOW(mb(MEMBARRIER_CMD_GLOBAL, 0, 0));
  SHOW(mb(MEMBARRIER_CMD_GLOBAL_EXPEDITED, 0, 0));
  SHOW(mb(MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0));
  SHOW(mb(MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE, 0, 0));
  SHOW(mb(MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ, 0, 0));
  SHOW(mb(MEMBARRIER_CMD_PRIVATE_EXPEDITED, 1, 0));           // flags: EINVAL first
  SHOW(mb(MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ, 2, 0));
  SHOW(mb(MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ, FLAG_CPU, 0));  // EPERM
  SHOW(mb(3, 0, 0));
  SHOW(mb(1 << 20, 0, 0));
  SHOW(mb(-1, 0, 0));

  SHOW(mb(MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED, 0, 0));
  SHOW(mb(GET_REGISTRATIONS, 0, 0));
  SHOW(mb(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE, 0, 0));
  SHOW(mb(MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0));            // still EPERM
  SHOW(mb(MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE, 0, 0));
  SHOW(mb(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0));
  SHOW(mb(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0));   // again: 0
  SHOW(mb(MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0));
  SHOW(mb(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_RSEQ, 0, 0));
  SHOW(mb(MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ, 0, 0));
  SHOW(mb(MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ, FLAG_CPU, 0));
  SHOW(mb(MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ, FLAG_CPU, 100000));
  SHOW(mb(GET_REGISTRATIONS, 0, 0));
  SHOW(mb(GET_REGISTRATIONS, 1, 0));

  // With another thread running (the IPI path).
  pthread_t t;
  pthread_create(&t, NULL, spin, NULL);
  SHOW(mb(MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0));
  SHOW(mb(MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE, 0, 0));
  SHOW(mb(MEMBARRIER_CMD_GLOBAL_EXPEDITED, 0, 0));
  atomic_store(&stop, 1);
  pthread_join(t, NULL);

  // fork: what the child keeps; execve: registrations are dropped.
  pid_t c = fork();
  if (c == 0) {
    printf("child:\n");
    SHOW(mb(GET_REGISTRATIONS, 0, 0));
    SHOW(mb(MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0));
    execl(argv[0], argv[0], "after-exec", (char*)NULL);
    _exit(127);
  }
  int st;
  waitpid(c, &st, 0);
  printf("child status %d\n", WEXITSTATUS(st));
  return 0;
}
