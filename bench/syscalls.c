/* Cost of single syscalls, nanoseconds per call: the median of 11 batches
 * of N calls each (a median is robust to the batches another process's
 * burst of CPU use slows down):
 *   syscalls pread N     1-byte pread of /dev/zero: forwarded to the host
 *                        (by elfuse's exitless worker, or through an exit)
 *   syscalls fstatat N   newfstatat("/"): forwarded, with a path
 *   syscalls getpid N    answered inside the guest by elfuse's entry
 *   syscalls futexwake N FUTEX_WAKE_PRIVATE that wakes nobody (likewise)
 * Built static; bench/run.sh runs it natively and under elfuse, with
 * ELFUSE_EXITLESS=0 and without. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define BATCHES 11

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int cmp(const void* a, const void* b) {
  double x = *(const double*)a, y = *(const double*)b;
  return x < y ? -1 : x > y;
}

enum mode { PREAD, FSTATAT, GETPID, FUTEXWAKE };
static int fd;
static int futex_word;

static void one(enum mode m) {
  char c;
  struct stat st;
  switch (m) {
    case PREAD:
      syscall(SYS_pread64, fd, &c, 1, 0);
      break;
    case FSTATAT:
      syscall(SYS_newfstatat, AT_FDCWD, "/", &st, 0);
      break;
    case GETPID:
      syscall(SYS_getpid);
      break;
    case FUTEXWAKE:
      syscall(SYS_futex, &futex_word, 129 /* FUTEX_WAKE_PRIVATE */, 1, NULL, NULL, 0);
      break;
  }
}

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: syscalls pread|fstatat|getpid|futexwake [N]\n");
    return 2;
  }
  static const char* names[] = {"pread", "fstatat", "getpid", "futexwake"};
  int m = 0;
  while (m < 4 && strcmp(argv[1], names[m]) != 0) m++;
  if (m == 4) return 2;
  enum mode what = (enum mode)m;
  long n = argc > 2 ? atol(argv[2]) : 2000;
  fd = open("/dev/zero", O_RDONLY);
  double t[BATCHES];
  for (int i = 0; i < 200; i++) one(what);
  for (int b = 0; b < BATCHES; b++) {
    double t0 = now_ns();
    for (long i = 0; i < n; i++) one(what);
    t[b] = (now_ns() - t0) / n;
  }
  qsort(t, BATCHES, sizeof t[0], cmp);
  printf("%.1f\n", t[BATCHES / 2]);
  return 0;
}
