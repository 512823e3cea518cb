// unshare(CLONE_FILES / CLONE_FS) in a thread gives it its own fd table and
// cwd, as Linux does; the thread-sharing flags are EINVAL while another
// thread runs; remap_file_pages (Linux's emulation) on a shared file
// mapping.
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common.h"
#include "own_dir.h"

static int shared_fd;
static int ready[2];  // the thread's "done" to main
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

static void* thread_main(void* arg) {
  SHOW(syscall(SYS_unshare, CLONE_FILES));
  SHOW(close(shared_fd));
  SHOW(fcntl(shared_fd, F_GETFD));
  SHOW(syscall(SYS_unshare, CLONE_FS));
  SHOW(chdir("sub"));
  SHOW(umask(077));
  write(ready[1], "x", 1);
  pthread_mutex_lock(&mu);  // main's checks run while this thread lives
  pthread_mutex_unlock(&mu);
  return NULL;
}

static void* waiter(void* arg) {
  pthread_mutex_lock(&mu);
  pthread_mutex_unlock(&mu);
  return NULL;
}

// The /proc/self/maps rows inside [base, base+len): offset from base,
// permissions, file offset.
static void show_maps(const char* base, unsigned long len) {
  FILE* f = fopen("/proc/self/maps", "r");
  char line[512];
  while (fgets(line, sizeof line, f)) {
    unsigned long s, e, off;
    char perms[8];
    if (sscanf(line, "%lx-%lx %7s %lx", &s, &e, perms, &off) != 4) continue;
    if (s >= (unsigned long)base && s < (unsigned long)base + len)
      printf("  +%05lx-+%05lx %s %08lx\n", s - (unsigned long)base, e - (unsigned long)base,
             perms, off);
  }
  fclose(f);
}

int main(void) {
  own_dir_enter();
  mkdir("sub", 0755);
  umask(022);
  shared_fd = open(".", O_RDONLY);
  pipe(ready);
  pthread_mutex_lock(&mu);
  pthread_t t;
  pthread_create(&t, NULL, thread_main, NULL);
  char c;
  read(ready[0], &c, 1);
  printf("main: fd still open: %s\n", fcntl(shared_fd, F_GETFD) >= 0 ? "yes" : "no");
  struct stat here, sub;
  stat(".", &here);
  stat("sub", &sub);
  printf("main: cwd still the top: %s\n", here.st_ino != sub.st_ino ? "yes" : "no");
  mode_t m = umask(022);
  printf("main: umask %03o\n", m);
  pthread_mutex_unlock(&mu);
  pthread_join(t, NULL);

  pthread_mutex_lock(&mu);
  pthread_create(&t, NULL, waiter, NULL);
  SHOW(syscall(SYS_unshare, CLONE_THREAD));
  SHOW(syscall(SYS_unshare, CLONE_VM));
  SHOW(syscall(SYS_unshare, CLONE_SIGHAND));
  SHOW(syscall(SYS_unshare, CLONE_NEWUSER));
  SHOW(syscall(SYS_unshare, CLONE_FILES | CLONE_FS | CLONE_SYSVSEM));
  pthread_mutex_unlock(&mu);
  pthread_join(t, NULL);

  // remap_file_pages: page 0 of a 3-page shared mapping shows file page 2.
  int fd = open("file", O_RDWR | O_CREAT | O_TRUNC, 0600);
  char page[4096];
  for (int i = 0; i < 3; i++) {
    memset(page, 'a' + i, sizeof page);
    write(fd, page, sizeof page);
  }
  char* p = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  SHOW(remap_file_pages(p, 4096, 0, 2, 0));
  printf("pages: %c %c %c\n", p[0], p[4096], p[8192]);
  show_maps(p, 3 * 4096);
  p[0] = 'Z';  // writes through to file page 2
  pread(fd, page, 1, 8192);
  printf("file page 2 starts with %c\n", page[0]);
  SHOW(remap_file_pages(p + 4096, 8192, 0, 0, 0));
  printf("pages: %c %c %c\n", p[0], p[4096], p[8192]);
  show_maps(p, 3 * 4096);
  SHOW(remap_file_pages(p, 4096, PROT_READ, 0, 0));
  SHOW(remap_file_pages(p, 0, 0, 0, 0));
  SHOW(remap_file_pages(p, 4 * 4096, 0, 0, 0));
  SHOW(remap_file_pages(p, 4096, 0, -1L, 0));
  SHOW(remap_file_pages((void*)0x10000, 4096, 0, 0, 0));
  char* priv = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 0);
  SHOW(remap_file_pages(priv, 4096, 0, 1, 0));
  char* anon = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  anon[0] = 'x';
  anon[4096] = 'y';
  SHOW(remap_file_pages(anon, 4096, 0, 1, 0));
  printf("shared anonymous: %c %c\n", anon[0], anon[4096]);
  return 0;
}
