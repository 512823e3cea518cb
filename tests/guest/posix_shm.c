// POSIX shared memory: shm_open/shm_unlink are open/unlink under /dev/shm in
// the C libraries; a MAP_SHARED mapping of the object is shared with a
// forked child and with a second mapping of the same name, survives
// shm_unlink while mapped, and O_EXCL/ENOENT behave as for files. Compared
// with native.
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  char name[64];
  snprintf(name, sizeof name, "/elfuse-test-%d", getpid());
  int fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
  printf("shm_open ok: %d\n", fd >= 0);
  SHOW(shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600));
  OK(ftruncate(fd, 8192));
  struct stat st;
  OK(fstat(fd, &st));
  printf("size %lld mode %o\n", (long long)st.st_size, st.st_mode & 0777);
  char* p = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  printf("mmap ok: %d\n", p != MAP_FAILED);
  strcpy(p, "parent");

  pid_t c = fork();
  if (c == 0) {
    printf("child sees '%s'\n", p);
    strcpy(p, "child was here");
    strcpy(p + 4096, "second page");
    _exit(0);
  }
  int status;
  waitpid(c, &status, 0);
  printf("child exit %d, parent sees '%s' '%s'\n", WEXITSTATUS(status), p, p + 4096);

  // A second mapping of the same object, by name: the same pages.
  int fd2 = shm_open(name, O_RDONLY, 0);
  char* q = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd2, 4096);
  printf("second mapping sees '%s'\n", q);
  strcpy(p + 4096, "updated");
  printf("after store through the first: '%s'\n", q);
  SHOW(mprotect(q, 4096, PROT_READ | PROT_WRITE));  // fd is read-only: EACCES
  // write(2) is coherent with the mapping.
  OK(pwrite(fd, "W", 1, 0));
  printf("mapping after pwrite: '%c'\n", p[0]);

  OK(shm_unlink(name));
  SHOW(shm_unlink(name));
  SHOW(shm_open(name, O_RDWR, 0));
  printf("still mapped after unlink: '%s'\n", q);
  // The child of a fork after unlink still shares the pages.
  c = fork();
  if (c == 0) {
    p[1] = '!';
    _exit(0);
  }
  waitpid(c, &status, 0);
  printf("after second child: '%.3s'\n", p);
  munmap(p, 8192);
  munmap(q, 4096);
  close(fd);
  close(fd2);
  SHOW(shm_open("/", O_RDWR | O_CREAT, 0600));
  return 0;
}
