/* Process and thread costs (issue 4), microseconds per operation, median of
 * 5 batches:
 *   procs fork N              fork + child _exit + waitpid
 *   procs vfork_exec N PROG   vfork + execv(PROG) (a static program) + waitpid
 *   procs pthread N           pthread_create + pthread_join
 *   procs futex N             futex ping-pong round trip between two threads
 * Built static; bench/run.sh runs it natively and under elfuse. */
#include <fcntl.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static void* nothing(void* arg) {
  return arg;
}

static _Atomic int word;
static long rounds;
static void futex_wait(int val) {
  while (atomic_load(&word) == val) syscall(SYS_futex, &word, FUTEX_WAIT_PRIVATE, val, NULL);
}
static void futex_wake(void) {
  syscall(SYS_futex, &word, FUTEX_WAKE_PRIVATE, 1);
}
static void* ponger(void* arg) {
  for (long i = 0; i < rounds; i++) {
    futex_wait(0);  // wait for ping (1)
    atomic_store(&word, 0);
    futex_wake();
  }
  return arg;
}

static int cmp(const void* a, const void* b) {
  double x = *(const double*)a, y = *(const double*)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char** argv) {
  if (argc < 3) return 2;
  const char* mode = argv[1];
  long n = atol(argv[2]);
  const char* prog = argc > 3 ? argv[3] : NULL;
  double batch[5];
  for (int b = 0; b < 5; b++) {
    double t0 = now_us();
    if (!strcmp(mode, "fork")) {
      for (long i = 0; i < n; i++) {
        pid_t p = fork();
        if (p == 0) _exit(0);
        waitpid(p, NULL, 0);
      }
    } else if (!strcmp(mode, "vfork_exec")) {
      for (long i = 0; i < n; i++) {
        pid_t p = vfork();
        if (p == 0) {
          char* args[] = {(char*)prog, NULL};
          execv(prog, args);
          _exit(127);
        }
        int st;
        waitpid(p, &st, 0);
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) return 1;
      }
    } else if (!strcmp(mode, "pthread")) {
      for (long i = 0; i < n; i++) {
        pthread_t t;
        pthread_create(&t, NULL, nothing, NULL);
        pthread_join(t, NULL);
      }
    } else if (!strcmp(mode, "futex")) {
      rounds = n;
      atomic_store(&word, 0);
      pthread_t t;
      pthread_create(&t, NULL, ponger, NULL);
      t0 = now_us();
      for (long i = 0; i < n; i++) {
        atomic_store(&word, 1);
        futex_wake();
        futex_wait(1);  // wait for pong (0)
      }
      pthread_join(t, NULL);
    } else {
      return 2;
    }
    batch[b] = (now_us() - t0) / n;
  }
  qsort(batch, 5, sizeof batch[0], cmp);
  printf("%.1f\n", batch[2]);
  return 0;
}
