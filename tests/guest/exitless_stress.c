// Several threads at once on the calls elfuse's exitless workers serve:
// open, fstat, stat, pread, read, lseek, getdents64, readlink, close in
// loops, each result checked against what the thread knows (file sizes and
// contents, its own tid and fds), with signals arriving meanwhile. Prints
// one summary line per check, so any wrong answer shows as a difference.
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <unistd.h>

#include "own_dir.h"

#define THREADS 4
#define ROUNDS 400

static void on_usr1(int sig) {
  (void)sig;
}

struct job {
  int index;
  pthread_t self;
  long bad_open, bad_stat, bad_read, bad_seek, bad_tid, bad_dir, bad_link, done;
  char path[64];
};

static void* worker(void* p) {
  struct job* j = p;
  pid_t tid = (pid_t)syscall(SYS_gettid);
  char want[256], got[256];
  for (int i = 0; i < (int)sizeof want; i++) want[i] = (char)('a' + (i * 7 + j->index) % 26);
  for (int round = 0; round < ROUNDS; round++) {
    int fd = open(j->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      j->bad_open++;
      continue;
    }
    struct stat st, st2;
    if (fstat(fd, &st) < 0 || st.st_size != (off_t)sizeof want || stat(j->path, &st2) < 0 ||
        st2.st_ino != st.st_ino)
      j->bad_stat++;
    int off = round % 200;
    long n = pread(fd, got, 32, off);
    if (n != 32 || memcmp(got, want + off, 32) != 0) j->bad_read++;
    if (lseek(fd, off, SEEK_SET) != off) j->bad_seek++;
    n = read(fd, got, 16);
    if (n != 16 || memcmp(got, want + off, 16) != 0) j->bad_read++;
    char link[64], target[256];
    snprintf(link, sizeof link, "/dev/fd/%d", fd);
    n = readlink(link, target, sizeof target - 1);
    if (n <= 0) j->bad_link++;
    close(fd);
    if ((pid_t)syscall(SYS_gettid) != tid || getpid() == tid) j->bad_tid++;
    if (round % 50 == 0) {
      DIR* d = opendir(".");
      int found = 0;
      struct dirent* e;
      while (d && (e = readdir(d)))
        if (strcmp(e->d_name, j->path) == 0) found = 1;
      if (d) closedir(d);
      if (!found) j->bad_dir++;
    }
    j->done++;
  }
  return NULL;
}

int main(void) {
  own_dir_enter();
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_usr1;
  sa.sa_flags = SA_RESTART;
  sigaction(SIGUSR1, &sa, NULL);

  struct job jobs[THREADS];
  for (int t = 0; t < THREADS; t++) {
    memset(&jobs[t], 0, sizeof jobs[t]);
    jobs[t].index = t;
    snprintf(jobs[t].path, sizeof jobs[t].path, "stress_%d", t);
    char data[256];
    for (int i = 0; i < (int)sizeof data; i++) data[i] = (char)('a' + (i * 7 + t) % 26);
    int fd = open(jobs[t].path, O_CREAT | O_TRUNC | O_WRONLY, 0600);
    if (fd < 0 || write(fd, data, sizeof data) != (long)sizeof data) return 1;
    close(fd);
  }
  for (int t = 0; t < THREADS; t++) pthread_create(&jobs[t].self, NULL, worker, &jobs[t]);
  // Signals to the threads while they work (SA_RESTART: nothing may fail).
  for (int k = 0; k < 20; k++) {
    for (int t = 0; t < THREADS; t++) pthread_kill(jobs[t].self, SIGUSR1);
    usleep(2000);
  }
  for (int t = 0; t < THREADS; t++) pthread_join(jobs[t].self, NULL);
  long bad = 0, done = 0;
  const char* names[] = {"open", "stat", "read", "seek", "tid", "dir", "link"};
  long counts[7] = {0};
  for (int t = 0; t < THREADS; t++) {
    counts[0] += jobs[t].bad_open;
    counts[1] += jobs[t].bad_stat;
    counts[2] += jobs[t].bad_read;
    counts[3] += jobs[t].bad_seek;
    counts[4] += jobs[t].bad_tid;
    counts[5] += jobs[t].bad_dir;
    counts[6] += jobs[t].bad_link;
    done += jobs[t].done;
  }
  for (int i = 0; i < 7; i++) {
    printf("%s: %s\n", names[i], counts[i] ? "WRONG" : "ok");
    bad += counts[i];
  }
  printf("rounds: %s\n", done == THREADS * ROUNDS ? "all" : "MISSING");
  for (int t = 0; t < THREADS; t++) unlink(jobs[t].path);
  return bad ? 1 : 0;
}
