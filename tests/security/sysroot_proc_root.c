// Finding 2 of docs/security.md: under --sysroot every root link of a guest
// task leads into the root: /proc/self/root, /proc/self/task/TID/root,
// /proc/PID/task/TID/root, /proc/TID/root of another thread and
// /proc/CHILD/root of a forked child. The lane runs it under
// `elfuse --sysroot /lane/sysroot` (sysroot_proc_root.elfuse-args) and
// natively chrooted into the same directory (the program does that itself
// when argv[1] names a directory that exists: natively it does, inside the
// root it does not). Invariants of a chrooted process: each link is the
// directory "/" is, a cwd reached through one is "/", and a file created
// through one is the file of that name under "/". LEAK otherwise.
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"

static struct stat root_st;

static int same(const struct stat* a, const struct stat* b) {
  return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

static int check(const char* label, const char* path) {
  struct stat st;
  if (stat(path, &st) != 0) {
    printf("%s: refused\n", label);
    return 0;
  }
  if (same(&st, &root_st)) {
    printf("%s: my root\n", label);
    return 0;
  }
  printf("%s: LEAK (not my root)\n", label);
  return 1;
}

static int thread_tid;
static int ready[2], done[2];
static void* thread_main(void* arg) {
  (void)arg;
  thread_tid = (int)syscall(SYS_gettid);
  char c = 1;
  if (write(ready[1], &c, 1) != 1) return NULL;
  if (read(done[0], &c, 1) < 0) return NULL;
  return NULL;
}

static void enter_root(const char* dir) {
  struct stat st;
  if (!dir || stat(dir, &st) != 0) return;  // already inside (elfuse --sysroot)
  char procdir[512];
  snprintf(procdir, sizeof procdir, "%s/proc", dir);
  if (unshare(CLONE_NEWNS) == 0) {
    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL);
    mount("proc", procdir, "proc", 0, NULL);
  }
  if (chroot(dir) != 0 || chdir("/") != 0) exit(2);
}

int main(int argc, char** argv) {
  enter_root(argc > 1 ? argv[1] : NULL);
  if (stat("/", &root_st) != 0) return 2;
  int bad = 0;
  char path[256];
  int pid = getpid();
  bad |= check("self/root", "/proc/self/root/.");
  snprintf(path, sizeof path, "/proc/self/task/%d/root/.", pid);
  bad |= check("self/task/TID/root", path);
  snprintf(path, sizeof path, "/proc/%d/task/%d/root/.", pid, pid);
  bad |= check("PID/task/TID/root", path);

  // Another thread's links.
  if (pipe(ready) != 0 || pipe(done) != 0) return 2;
  pthread_t t;
  if (pthread_create(&t, NULL, thread_main, NULL) != 0) return 2;
  char c;
  if (read(ready[0], &c, 1) != 1) return 2;
  snprintf(path, sizeof path, "/proc/%d/root/.", thread_tid);
  bad |= check("TID/root (another thread)", path);
  snprintf(path, sizeof path, "/proc/self/task/%d/root/.", thread_tid);
  bad |= check("self/task/TID/root (another thread)", path);
  if (write(done[1], &c, 1) != 1) return 2;
  pthread_join(t, NULL);

  // A child's.
  int go[2];
  if (pipe(go) != 0) return 2;
  fflush(stdout);
  pid_t child = fork();
  if (child == 0) {
    close(go[1]);
    if (read(go[0], &c, 1) < 0) _exit(1);
    _exit(0);
  }
  close(go[0]);
  snprintf(path, sizeof path, "/proc/%d/root/.", child);
  bad |= check("CHILD/root", path);
  snprintf(path, sizeof path, "/proc/%d/task/%d/root/.", child, child);
  bad |= check("CHILD/task/TID/root", path);
  close(go[1]);
  waitpid(child, NULL, 0);

  // A cwd reached through a root link.
  snprintf(path, sizeof path, "/proc/%d/task/%d/root", pid, pid);
  if (chdir(path) == 0) {
    struct stat st;
    int ok = stat(".", &st) == 0 && same(&st, &root_st);
    printf("cd TASK/root: %s\n", ok ? "my root" : "LEAK (not my root)");
    bad |= !ok;
    if (chdir("/") != 0) return 2;
  } else {
    printf("cd TASK/root: refused\n");
  }

  // A file created through a root link is the file of that name under "/".
  char dir[] = "/tmp/sysroot_proc_root.XXXXXX";
  if (!mkdtemp(dir)) return 2;
  snprintf(path, sizeof path, "/proc/self/task/%d/root%s/made", pid, dir);
  int fd = open(path, O_CREAT | O_WRONLY | O_EXCL, 0600);
  if (fd >= 0) {
    close(fd);
    char mine[256];
    snprintf(mine, sizeof mine, "%s/made", dir);
    int ok = access(mine, F_OK) == 0;
    printf("create through TASK/root: %s\n", ok ? "under my root" : "LEAK (elsewhere)");
    bad |= !ok;
    unlink(path);
    unlink(mine);
  } else {
    printf("create through TASK/root: refused\n");
  }
  rmdir(dir);
  return bad;
}
