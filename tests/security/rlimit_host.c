// The guest's resource limits are the guest's: a program that lowers its
// RLIMIT_DATA, RLIMIT_AS, RLIMIT_NOFILE and RLIMIT_STACK (hard limits
// included, so that they cannot be raised back) goes on working as it does
// natively: it reads /proc files, forks, starts threads, execs itself and
// limits a child with prlimit. Were these the elfuse process's host limits,
// elfuse itself would fail (std::bad_alloc, "cannot restore the vCPU in
// the child", EAGAIN from pthread_create).
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"

#define MiB (1ul << 20)

static void* thread_fn(void* arg) {
  return arg;
}

static int child_status(pid_t pid) {
  int st = 0;
  if (waitpid(pid, &st, 0) < 0) return -1;
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

// Work that makes elfuse allocate memory and descriptors of its own.
static int work(void) {
  int bad = 0;
  for (int i = 0; i < 4; i++) {
    int fd = open("/proc/self/maps", O_RDONLY);
    char buf[4096];
    if (fd < 0 || read(fd, buf, sizeof buf) <= 0) bad |= 1;
    if (fd >= 0) close(fd);
  }
  pid_t pid = fork();
  if (pid == 0) {
    pid_t g = fork();
    if (g == 0) _exit(7);
    _exit(child_status(g) == 7 ? 0 : 1);
  }
  if (pid < 0 || child_status(pid) != 0) bad |= 2;
  pthread_t t[4];
  for (int i = 0; i < 4; i++)
    if (pthread_create(&t[i], NULL, thread_fn, NULL) != 0)
      bad |= 4;
    else
      pthread_join(t[i], NULL);
  void* p = mmap(NULL, 4 * MiB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) bad |= 8;
  return bad;
}

int main(int argc, char** argv) {
  setvbuf(stdout, NULL, _IONBF, 0);
  if (argc > 1) {
    // Re-executed under the limits: they were kept by execve.
    struct rlimit l;
    getrlimit(RLIMIT_DATA, &l);
    printf("after exec: RLIMIT_DATA %lu MiB\n", (unsigned long)(l.rlim_cur / MiB));
    printf("after exec: work %d\n", work());
    return 0;
  }
  struct rlimit l = {96 * MiB, 96 * MiB};
  OK(setrlimit(RLIMIT_DATA, &l));
  l.rlim_cur = l.rlim_max = 768 * MiB;
  OK(setrlimit(RLIMIT_AS, &l));
  l.rlim_cur = l.rlim_max = 64;
  OK(setrlimit(RLIMIT_NOFILE, &l));
  l.rlim_cur = l.rlim_max = 256 * 1024;
  OK(setrlimit(RLIMIT_STACK, &l));
  l.rlim_cur = l.rlim_max = 0;
  OK(setrlimit(RLIMIT_MEMLOCK, &l));
  printf("work: %d\n", work());
  // A child limited by its parent through prlimit: it runs on.
  int pipefd[2];
  if (pipe(pipefd) != 0) return 1;
  pid_t pid = fork();
  if (pid == 0) {
    char c;
    close(pipefd[1]);
    if (read(pipefd[0], &c, 1) != 1) _exit(99);
    _exit(work());
  }
  close(pipefd[0]);
  struct rlimit cl = {32 * MiB, 32 * MiB};
  printf("prlimit(child, RLIMIT_DATA): %s\n",
         syscall(SYS_prlimit64, pid, RLIMIT_DATA, &cl, NULL) == 0 ? "ok" : errname(errno));
  cl.rlim_cur = cl.rlim_max = 512 * MiB;
  printf("prlimit(child, RLIMIT_AS): %s\n",
         syscall(SYS_prlimit64, pid, RLIMIT_AS, &cl, NULL) == 0 ? "ok" : errname(errno));
  if (write(pipefd[1], "x", 1) != 1) return 1;
  printf("child: %d\n", child_status(pid));
  fflush(stdout);
  execl(argv[0], argv[0], "again", (char*)NULL);
  printf("execl: %s\n", errname(errno));
  return 1;
}
