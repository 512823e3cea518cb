// close_range with CLOSE_RANGE_UNSHARE: the descriptors below the range stay
// open and those in it are closed (fs/file.c __close_range); in a thread that
// shares the table the unshare gives it its own copy, so the other thread
// keeps the descriptors the first closed.
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common.h"
#include "exitless_burst.h"

#ifndef CLOSE_RANGE_UNSHARE
#define CLOSE_RANGE_UNSHARE (1u << 1)
#endif

static int fds[10];
static char path[64];

static void report(const char* who) {
  printf("%s:", who);
  for (int i = 0; i < 10; i++) {
    char c;
    long r = pread(fds[i], &c, 1, 0);
    printf(" %s", r == 1 ? "open" : errname(errno));
  }
  printf("\n");
}

static void* closer(void* arg) {
  (void)arg;
  OK(syscall(SYS_close_range, fds[5], ~0u, CLOSE_RANGE_UNSHARE));
  report("thread");
  int fd = OK(open("/proc/self/status", O_RDONLY));
  char c;
  SHOW(read(fd, &c, 1));
  close(fd);
  fd = OK(dup(0));
  close(fd);
  fd = OK(open(path, O_RDONLY));
  SHOW(read(fd, &c, 1));
  close(fd);
  return NULL;
}

int main(void) {
  char dir[] = "/tmp/crXXXXXX";
  if (!mkdtemp(dir)) return 1;
  snprintf(path, sizeof path, "%s/f", dir);
  int fd = open(path, O_RDWR | O_CREAT, 0600);
  if (write(fd, "x", 1) != 1) return 1;
  for (int i = 0; i < 10; i++) fds[i] = open(path, O_RDONLY);
  report("start");

  pthread_t t;
  pthread_create(&t, NULL, closer, NULL);
  pthread_join(t, NULL);
  report("main after thread");

  // With only this thread the table is not shared: nothing is unshared,
  // also for calls made in a burst right before and after.
  exitless_burst(2000);
  OK(syscall(SYS_close_range, fds[5], ~0u, CLOSE_RANGE_UNSHARE));
  exitless_burst(2000);
  report("main");
  int still = 0;
  for (int i = 0; i < 1000; i++) {
    char b;
    if (pread(fds[6], &b, 1, 0) == 1) still++;
  }
  printf("reads of a closed fd that worked: %d\n", still);
  SHOW(write(1, "", 0));
  int nfd = open(path, O_RDONLY);
  char c;
  SHOW(pread(nfd, &c, 1, 0));
  OK(syscall(SYS_close_range, fds[0], fds[2], CLOSE_RANGE_UNSHARE));
  report("main again");
  pthread_create(&t, NULL, closer, NULL);
  pthread_join(t, NULL);
  unlink(path);
  rmdir(dir);
  return 0;
}
