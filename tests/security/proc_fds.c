// Finding 5 of docs/security.md: elfuse's own descriptors (/dev/kvm, the
// VM's and vCPUs' fds, memfds, pipes) and its own host threads must not show
// through /proc. Invariants that hold natively: every fd that /proc/self/fd
// and /proc/self/fdinfo list is open in the process (fcntl F_GETFD works);
// no fd at or above the hard RLIMIT_NOFILE can exist, so naming one through
// /proc/self/fd, /dev/fd or a dirfd on /proc/self/fd is ENOENT (open,
// readlink, stat), also through a symlink that names it; a single-threaded program has one task, and status says
// Threads: 1, also while elfuse's exitless worker runs. It prints LEAK and the offending entry otherwise.
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"
#include "exitless_burst.h"

static int listed_closed(const char* dir, const char* label) {
  DIR* d = opendir(dir);
  if (!d) return -1;
  int bad = 0;
  struct dirent* e;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    int n = atoi(e->d_name);
    if (fcntl(n, F_GETFD) < 0) {
      if (!bad) printf("%s: LEAK: lists fd %d, which is not open\n", label, n);
      bad++;
    }
  }
  closedir(d);
  if (!bad) printf("%s: only open fds\n", label);
  return bad;
}

int main(void) {
  int bad = 0;
  bad |= listed_closed("/proc/self/fd", "/proc/self/fd") != 0;
  bad |= listed_closed("/proc/self/fdinfo", "/proc/self/fdinfo") != 0;
  char path[128];
  snprintf(path, sizeof path, "/proc/self/task/%d/fd", getpid());
  bad |= listed_closed(path, "/proc/self/task/PID/fd") != 0;

  // Above the hard limit nothing can be open: every name of such an fd is
  // ENOENT.
  struct rlimit lim;
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0) return 2;
  long from = lim.rlim_max > 1 << 20 ? 1 << 20 : (long)lim.rlim_max;
  int dfd = open("/proc/self/fd", O_RDONLY | O_DIRECTORY);
  int found = 0;
  for (long n = from; n < from + 1400 && found < 3; n++) {
    char name[64], link[256];
    struct stat st;
    const char* how = NULL;
    snprintf(name, sizeof name, "/proc/self/fd/%ld", n);
    if (readlink(name, link, sizeof link) >= 0) how = "readlink";
    if (!how && stat(name, &st) == 0) how = "stat";
    int fd = open(name, O_RDONLY);
    if (!how && fd >= 0) how = "open";
    if (fd >= 0) close(fd);
    snprintf(name, sizeof name, "/proc/self/fdinfo/%ld", n);
    fd = open(name, O_RDONLY);
    if (!how && fd >= 0) how = "open fdinfo";
    if (fd >= 0) close(fd);
    snprintf(name, sizeof name, "/dev/fd/%ld", n);
    if (!how && lstat(name, &st) == 0) how = "lstat /dev/fd";
    snprintf(name, sizeof name, "%ld", n);
    if (!how && dfd >= 0 && fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) how = "fstatat";
    if (how) {
      printf("fd above the hard limit: LEAK (%s of fd %ld)\n", how, n);
      found++;
      bad = 1;
    }
  }
  if (!found) printf("fd above the hard limit: none\n");
  // Nor through a symlink of the program's own that names one directly (the
  // host names what such an open reaches by the object, not by /proc).
  char dir[] = "/tmp/proc_fds.XXXXXX";
  if (!mkdtemp(dir)) return 2;
  char link_path[128];
  snprintf(link_path, sizeof link_path, "%s/l", dir);
  int via_link = 0;
  for (long n = from; n < from + 1400; n++) {
    char name[64];
    snprintf(name, sizeof name, "/proc/self/fd/%ld", n);
    unlink(link_path);
    if (symlink(name, link_path) != 0) return 2;
    int fd = open(link_path, O_RDONLY);
    if (fd >= 0) {
      if (!via_link) printf("symlink to an fd above the hard limit: LEAK (fd %ld)\n", n);
      via_link++;
      close(fd);
    }
  }
  unlink(link_path);
  rmdir(dir);
  if (!via_link) printf("symlink to an fd above the hard limit: none\n");
  bad |= via_link != 0;
  // Nor can one be executed (in a child, in case it runs).
  int exec_bad = 0;
  for (long n = from; n < from + 16; n++) {
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
      char name[64];
      snprintf(name, sizeof name, "/proc/self/fd/%ld", n);
      char* args[] = {name, NULL};
      char* env[] = {NULL};
      execve(name, args, env);
      _exit(errno == ENOENT ? 0 : 1);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) exec_bad++;
  }
  printf("execve of an fd above the hard limit: %s\n", exec_bad ? "LEAK" : "ENOENT");
  bad |= exec_bad != 0;
  if (dfd >= 0) close(dfd);

  // One thread: one task, and status says so; also after a burst of cheap
  // calls (which starts elfuse's exitless worker, a host thread of its own).
  exitless_burst(2000);
  DIR* d = opendir("/proc/self/task");
  int tasks = 0;
  struct dirent* e;
  while (d && (e = readdir(d)))
    if (e->d_name[0] != '.') tasks++;
  if (d) closedir(d);
  printf("tasks: %d\n", tasks);
  // No other task of this process can be opened by number.
  int others = 0;
  for (int t = getpid() + 1; t < getpid() + 64; t++) {
    char name[64];
    snprintf(name, sizeof name, "/proc/%d/task/%d", getpid(), t);
    int fd = open(name, O_RDONLY | O_DIRECTORY);
    if (access(name, F_OK) == 0 || fd >= 0) others++;
    if (fd >= 0) close(fd);
    snprintf(name, sizeof name, "/proc/%d/status", t);
    fd = open(name, O_RDONLY);
    if (fd >= 0) {
      char buf[512];
      ssize_t n = read(fd, buf, sizeof buf - 1);
      buf[n > 0 ? n : 0] = 0;
      char want[32];
      snprintf(want, sizeof want, "\nTgid:\t%d\n", getpid());
      if (strstr(buf, want)) others++;  // a thread of this process
      close(fd);
    }
  }
  printf("other tasks by number: %d\n", others);
  FILE* f = fopen("/proc/self/status", "r");
  char line[256];
  while (f && fgets(line, sizeof line, f))
    if (strncmp(line, "Threads:", 8) == 0) printf("status %s", line);
  if (f) fclose(f);
  f = fopen("/proc/self/stat", "r");
  char st[1024] = {0};
  if (f && fgets(st, sizeof st, f)) {
    char* p = strrchr(st, ')');
    int field = 2;
    while (p && field < 20) {
      p = strchr(p + 1, ' ');
      field++;
    }
    if (p) printf("stat num_threads: %ld\n", strtol(p + 1, NULL, 10));
  }
  if (f) fclose(f);
  return bad;
}
