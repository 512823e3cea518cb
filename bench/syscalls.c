/* Cost of single system calls, nanoseconds per call, median of 5 batches:
 *   syscalls MODE N
 *     getppid        raw getppid syscall (forwarded to the host)
 *     getpid         raw getpid syscall
 *     futexwake      FUTEX_WAKE_PRIVATE of a word nobody waits on
 *     read_zero      1-byte read of /dev/zero
 *     pread          1-byte pread of /dev/zero
 *     fstatat        newfstatat("/")
 *     pipe           1-byte write then 1-byte read on a pipe
 *     open_close     openat + close of /dev/null
 *     clock_gettime  clock_gettime(CLOCK_MONOTONIC) through libc (vDSO if any)
 *     fstat_anon     raw fstat of /dev/zero into anonymous memory (144 bytes out)
 *     fstat_file     the same into a MAP_PRIVATE mapping of a file (the
 *                    program itself): elfuse's fault-tolerant copy_out
 *     uname_anon     raw uname into anonymous memory (390 bytes out)
 *     uname_file     the same into the file mapping
 *     sigmask_anon   rt_sigprocmask(SIG_BLOCK) of an empty set read from
 *                    anonymous memory (8 bytes in)
 *     sigmask_file   the same read from the file mapping
 * Built static; bench/run.sh runs it natively, under elfuse and under proot.
 * Under elfuse, getpid, getppid and futexwake are answered inside the guest
 * and the others go to the exitless worker when it is awake (ELFUSE_EXITLESS=0:
 * every one through an exit). */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int cmp(const void* a, const void* b) {
  double x = *(const double*)a, y = *(const double*)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char** argv) {
  if (argc < 3) return 2;
  const char* mode = argv[1];
  long n = atol(argv[2]);
  int zero = open("/dev/zero", O_RDONLY);
  int p[2];
  if (zero < 0 || pipe(p) != 0) return 1;
  char c = 0;
  struct timespec ts;
  struct stat st;
  int word = 0;
  double batch[5];
  // The *_file modes: a page of a file mapping (a host file overlay under
  // elfuse), written once so that it holds an empty signal set.
  char* target = NULL;
  if (strstr(mode, "_anon")) {
    target = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  } else if (strstr(mode, "_file")) {
    int self = open(argv[0], O_RDONLY);
    target = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE, self, 0);
  }
  if (target == MAP_FAILED) return 1;
  if (target) memset(target, 0, 4096);
  for (int b = 0; b < 5; b++) {
    double t0 = now_ns();
    if (!strcmp(mode, "getppid")) {
      for (long i = 0; i < n; i++) syscall(SYS_getppid);
    } else if (!strcmp(mode, "getpid")) {
      for (long i = 0; i < n; i++) syscall(SYS_getpid);
    } else if (!strcmp(mode, "futexwake")) {
      for (long i = 0; i < n; i++) syscall(SYS_futex, &word, 129 /* FUTEX_WAKE_PRIVATE */, 1, 0, 0, 0);
    } else if (!strcmp(mode, "pread")) {
      for (long i = 0; i < n; i++)
        if (pread(zero, &c, 1, 0) != 1) return 1;
    } else if (!strcmp(mode, "fstatat")) {
      for (long i = 0; i < n; i++)
        if (fstatat(AT_FDCWD, "/", &st, 0) != 0) return 1;
    } else if (!strcmp(mode, "read_zero")) {
      for (long i = 0; i < n; i++)
        if (read(zero, &c, 1) != 1) return 1;
    } else if (!strcmp(mode, "pipe")) {
      for (long i = 0; i < n; i++)
        if (write(p[1], &c, 1) != 1 || read(p[0], &c, 1) != 1) return 1;
    } else if (!strcmp(mode, "open_close")) {
      for (long i = 0; i < n; i++) {
        int fd = open("/dev/null", O_RDONLY);
        if (fd < 0) return 1;
        close(fd);
      }
    } else if (!strcmp(mode, "clock_gettime")) {
      for (long i = 0; i < n; i++) clock_gettime(CLOCK_MONOTONIC, &ts);
    } else if (!strncmp(mode, "fstat_", 6)) {
      for (long i = 0; i < n; i++)
        if (syscall(SYS_fstat, zero, target) != 0) return 1;
    } else if (!strncmp(mode, "uname_", 6)) {
      for (long i = 0; i < n; i++)
        if (syscall(SYS_uname, target) != 0) return 1;
    } else if (!strncmp(mode, "sigmask_", 8)) {
      for (long i = 0; i < n; i++)
        if (syscall(SYS_rt_sigprocmask, SIG_BLOCK, target + 2048, NULL, 8) != 0) return 1;
    } else {
      return 2;
    }
    batch[b] = (now_ns() - t0) / n;
  }
  qsort(batch, 5, sizeof batch[0], cmp);
  printf("%.1f\n", batch[2]);
  return 0;
}
