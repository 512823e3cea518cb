// Issue 12: another guest process's /proc/PID entries reflect that
// process's guest state, never its elfuse (each guest process is an elfuse
// host process: the host's /proc/PID shows elfuse's argv, maps, exe,
// threads and descriptors). A parent forks a multi-threaded child A and a
// child B that execs this program again; each side reads the other's
// cmdline, exe (readlink and open), status (Threads, Name, signal masks,
// NoNewPrivs, Seccomp), environ, the program's own rows of maps, the task
// listing, a scan of nearby tids for tasks of the process (elfuse's helper
// threads would show there), the fd and fdinfo listings (with the kind of
// each fd) and names of fds above the hard RLIMIT_NOFILE (none can exist).
// It prints what it read, compared with what the process knows of itself.
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"

static char own_exe[PATH_MAX];

// The whole file, NUL-terminated; its length, or -errno.
static long slurp(const char* path, char* buf, size_t size) {
  int fd = open(path, O_RDONLY);
  if (fd < 0) return -errno;
  size_t n = 0;
  for (;;) {
    ssize_t r = read(fd, buf + n, size - 1 - n);
    if (r < 0) {
      int e = errno;
      close(fd);
      return -e;
    }
    if (r == 0) break;
    n += (size_t)r;
    if (n == size - 1) break;
  }
  close(fd);
  buf[n] = '\0';
  return (long)n;
}

static void show_cmdline(const char* who, int pid) {
  char path[64], buf[4096];
  snprintf(path, sizeof path, "/proc/%d/cmdline", pid);
  long n = slurp(path, buf, sizeof buf);
  if (n < 0) {
    printf("%s cmdline: %s\n", who, errname((int)-n));
    return;
  }
  printf("%s cmdline:", who);
  const char* p = buf;
  while (p < buf + n) {
    printf(" [%s]", strcmp(p, own_exe) == 0 ? "OWN_EXE" : p);
    p += strlen(p) + 1;
  }
  printf("\n");
}

static void show_exe(const char* who, int pid) {
  char path[64], link[PATH_MAX];
  snprintf(path, sizeof path, "/proc/%d/exe", pid);
  ssize_t n = readlink(path, link, sizeof link - 1);
  if (n < 0) {
    printf("%s exe readlink: %s\n", who, errname(errno));
  } else {
    link[n] = '\0';
    printf("%s exe readlink: %s\n", who, strcmp(link, own_exe) == 0 ? "this program" : link);
  }
  // Opening the link opens the program file itself.
  struct stat want, got;
  int fd = open(path, O_RDONLY);
  if (fd < 0) {
    printf("%s exe open: %s\n", who, errname(errno));
    return;
  }
  int same = stat(own_exe, &want) == 0 && fstat(fd, &got) == 0 && want.st_dev == got.st_dev &&
             want.st_ino == got.st_ino;
  printf("%s exe open: %s\n", who, same ? "this program" : "ANOTHER FILE");
  close(fd);
}

static void show_status(const char* who, int pid) {
  static const char* const keys[] = {
      "Name:", "Threads:", "SigBlk:", "SigIgn:", "SigCgt:", "NoNewPrivs:", "Seccomp:", NULL};
  char path[64], buf[8192];
  snprintf(path, sizeof path, "/proc/%d/status", pid);
  long n = slurp(path, buf, sizeof buf);
  if (n < 0) {
    printf("%s status: %s\n", who, errname((int)-n));
    return;
  }
  for (char* line = strtok(buf, "\n"); line; line = strtok(NULL, "\n"))
    for (int k = 0; keys[k]; k++)
      if (strncmp(line, keys[k], strlen(keys[k])) == 0) printf("%s status %s\n", who, line);
}

static void show_environ(const char* who, int pid) {
  char path[64];
  static char theirs[1 << 16], mine[1 << 16];
  snprintf(path, sizeof path, "/proc/%d/environ", pid);
  long n = slurp(path, theirs, sizeof theirs);
  long m = slurp("/proc/self/environ", mine, sizeof mine);
  if (n < 0) {
    printf("%s environ: %s\n", who, errname((int)-n));
    return;
  }
  printf("%s environ: %ld bytes, %s\n", who, n,
         n == m && memcmp(theirs, mine, (size_t)n) == 0 ? "the same as ours" : "DIFFERENT");
}

// The rows of this program's file in a maps text, each on its own line.
static void program_rows(const char* text, char* out, size_t size) {
  out[0] = '\0';
  const char* p = text;
  while (*p) {
    const char* nl = strchr(p, '\n');
    size_t len = nl ? (size_t)(nl - p) : strlen(p);
    const char* slash = memchr(p, '/', len);
    if (slash && (size_t)(p + len - slash) == strlen(own_exe) &&
        memcmp(slash, own_exe, strlen(own_exe)) == 0 && strlen(out) + len + 2 < size) {
      strncat(out, p, len);
      strcat(out, "\n");
    }
    p += len + (nl ? 1 : 0);
  }
}

static void show_maps(const char* who, int pid) {
  char path[64];
  static char buf[1 << 17], rows[8192], own[8192];
  snprintf(path, sizeof path, "/proc/%d/maps", pid);
  long n = slurp(path, buf, sizeof buf);
  if (n < 0) {
    printf("%s maps: %s\n", who, errname((int)-n));
    return;
  }
  program_rows(buf, rows, sizeof rows);
  if (slurp("/proc/self/maps", buf, sizeof buf) >= 0) program_rows(buf, own, sizeof own);
  printf("%s maps, rows of this program (%s ours):\n%s", who,
         strcmp(rows, own) == 0 ? "the same as" : "NOT", rows);
}

static int cmp_int(const void* a, const void* b) {
  return *(const int*)a - *(const int*)b;
}

// The numeric entries of a directory, sorted; their count or -errno.
static int numbers_in(const char* dir, int* out, int max) {
  DIR* d = opendir(dir);
  if (!d) return -errno;
  int n = 0;
  struct dirent* e;
  while ((e = readdir(d)))
    if (e->d_name[0] >= '0' && e->d_name[0] <= '9' && n < max) out[n++] = atoi(e->d_name);
  closedir(d);
  qsort(out, (size_t)n, sizeof *out, cmp_int);
  return n;
}

static void show_tasks(const char* who, int pid) {
  char path[96];
  int tids[64];
  snprintf(path, sizeof path, "/proc/%d/task", pid);
  int n = numbers_in(path, tids, 64);
  if (n < 0) {
    printf("%s task: %s\n", who, errname(-n));
    return;
  }
  int readable = 0;
  for (int i = 0; i < n; i++) {
    char buf[512];
    snprintf(path, sizeof path, "/proc/%d/task/%d/stat", pid, tids[i]);
    if (slurp(path, buf, sizeof buf) > 0) readable++;
  }
  printf("%s task: %d entries, %d with a readable stat, leader listed: %s\n", who, n, readable,
         n > 0 && tids[0] == pid ? "yes" : "no");
  // Every task of the process has a /proc/<tid> of its own: the tids near
  // the pid that say Tgid: pid are its threads.
  int found = 0;
  for (int t = pid; t < pid + 400; t++) {
    char buf[4096];
    snprintf(path, sizeof path, "/proc/%d/status", t);
    if (slurp(path, buf, sizeof buf) <= 0) continue;
    const char* tg = strstr(buf, "\nTgid:");
    if (tg && atoi(tg + 6) == pid) found++;
  }
  printf("%s tasks found by scanning /proc/<tid>: %d\n", who, found);
}

static const char* fd_kind(const char* link) {
  if (strncmp(link, "pipe:", 5) == 0) return "pipe";
  if (strncmp(link, "socket:", 7) == 0) return "socket";
  if (strncmp(link, "anon_inode:", 11) == 0) return "anon_inode";
  if (strcmp(link, "/dev/null") == 0) return "/dev/null";
  if (strncmp(link, "/dev/", 5) == 0) return "device";
  return "file";
}

static void show_fds(const char* who, int pid) {
  char path[96];
  int fds[256];
  snprintf(path, sizeof path, "/proc/%d/fd", pid);
  int n = numbers_in(path, fds, 256);
  if (n < 0) {
    printf("%s fd: %s\n", who, errname(-n));
    return;
  }
  printf("%s fd:", who);
  for (int i = 0; i < n; i++) {
    char link[PATH_MAX];
    snprintf(path, sizeof path, "/proc/%d/fd/%d", pid, fds[i]);
    ssize_t l = readlink(path, link, sizeof link - 1);
    if (l < 0) {
      printf(" %d=%s", fds[i], errname(errno));
      continue;
    }
    link[l] = '\0';
    printf(" %d=%s", fds[i], fd_kind(link));
  }
  printf("\n");
  snprintf(path, sizeof path, "/proc/%d/fdinfo", pid);
  int infos[256];
  int m = numbers_in(path, infos, 256);
  printf("%s fdinfo: %d entries, %s the fd listing\n", who, m,
         m == n && memcmp(infos, fds, sizeof(int) * (size_t)n) == 0 ? "as" : "NOT AS");
  // Nothing can be open at or above the hard limit (the same in both).
  struct rlimit lim;
  getrlimit(RLIMIT_NOFILE, &lim);
  long from = lim.rlim_max > 1 << 20 ? 1 << 20 : (long)lim.rlim_max;
  int named = 0;
  for (long k = from; k < from + 1300; k++) {
    char link[PATH_MAX];
    struct stat st;
    snprintf(path, sizeof path, "/proc/%d/fd/%ld", pid, k);
    if (readlink(path, link, sizeof link) >= 0 || stat(path, &st) == 0) named++;
    snprintf(path, sizeof path, "/proc/%d/fdinfo/%ld", pid, k);
    if (access(path, F_OK) == 0) named++;
  }
  printf("%s names of fds at or above the hard limit that exist: %d\n", who, named);
}

static void inspect(const char* who, int pid) {
  show_cmdline(who, pid);
  show_exe(who, pid);
  show_status(who, pid);
  show_environ(who, pid);
  show_maps(who, pid);
  show_tasks(who, pid);
  show_fds(who, pid);
  fflush(stdout);
}

static int hold_fd;
static void* blocked_thread(void* arg) {
  char c;
  while (read(hold_fd, &c, 1) > 0) {
  }
  return NULL;
}

int main(int argc, char** argv) {
  ssize_t n = readlink("/proc/self/exe", own_exe, sizeof own_exe - 1);
  if (n < 0) return 2;
  own_exe[n] = '\0';
  if (argc == 6 && strcmp(argv[1], "exec-child") == 0) {
    // B, after its execve: says it runs, then waits for the parent.
    int ready_w = atoi(argv[2]), hold_r = atoi(argv[3]);
    close(atoi(argv[4]));
    close(atoi(argv[5]));
    char c = 'b';
    if (write(ready_w, &c, 1) != 1) return 3;
    while (read(hold_r, &c, 1) > 0) {
    }
    return 0;
  }

  int ready[2], hold[2];
  if (pipe(ready) || pipe(hold)) return 2;
  fflush(stdout);
  pid_t a = fork();
  if (a == 0) {
    // A: two more threads, then a look at the parent, then it waits.
    close(ready[0]);
    close(hold[1]);
    hold_fd = hold[0];
    pthread_t t[2];
    for (int i = 0; i < 2; i++) pthread_create(&t[i], NULL, blocked_thread, NULL);
    inspect("A sees parent:", getppid());
    char c = 'a';
    if (write(ready[1], &c, 1) != 1) _exit(3);
    blocked_thread(NULL);
    for (int i = 0; i < 2; i++) pthread_join(t[i], NULL);
    _exit(0);
  }
  char c;
  if (read(ready[0], &c, 1) != 1) return 2;
  inspect("parent sees A:", a);

  fflush(stdout);
  pid_t b = fork();
  if (b == 0) {
    char r1[16], h0[16], r0[16], h1[16];
    snprintf(r1, sizeof r1, "%d", ready[1]);
    snprintf(h0, sizeof h0, "%d", hold[0]);
    snprintf(r0, sizeof r0, "%d", ready[0]);
    snprintf(h1, sizeof h1, "%d", hold[1]);
    char* args[] = {"peer-exec", "exec-child", r1, h0, r0, h1, NULL};
    execv("/proc/self/exe", args);
    _exit(4);
  }
  if (read(ready[0], &c, 1) != 1) return 2;
  inspect("parent sees B (exec'd):", b);

  close(hold[1]);
  int st;
  waitpid(a, &st, 0);
  printf("A exit: %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
  waitpid(b, &st, 0);
  printf("B exit: %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
  return 0;
}
