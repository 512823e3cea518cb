// Capabilities at execve (security/commoncap.c cap_bprm_creds_from_file):
// a root process that keeps its capabilities across setresuid to a
// non-root uid (PR_SET_KEEPCAPS, as setpriv and capsh do) loses them at
// the next execve, unless they are in the ambient set. The child (this
// program re-executed from a copy in a mkdtemp directory) prints its
// sets and whether it can open a root-only file made by the parent.
// Under an elfuse that keeps the host thread's sets across the guest's
// execve, the child opens the file: that prints LEAK.
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"

static void print_status(void) {
  FILE* f = fopen("/proc/self/status", "re");
  if (!f) {
    printf("status: %s\n", errname(errno));
    return;
  }
  char line[256];
  while (fgets(line, sizeof line, f)) {
    if (!strncmp(line, "CapPrm:", 7) || !strncmp(line, "CapEff:", 7) ||
        !strncmp(line, "CapAmb:", 7) || !strncmp(line, "CapInh:", 7))
      fputs(line, stdout);
  }
  fclose(f);
}

// The child: what it holds after the execve.
static int child(const char* mode, const char* secret) {
  printf("[%s] uid=%d euid=%d AT_SECURE=%lu keepcaps=%d\n", mode, (int)getuid(), (int)geteuid(),
         getauxval(AT_SECURE), prctl(PR_GET_KEEPCAPS, 0, 0, 0, 0));
  print_status();
  int fd = open(secret, O_RDONLY);
  if (fd >= 0) {
    // Linux: only a child that kept CAP_DAC_OVERRIDE in its ambient set, or
    // whose effective uid is 0, reads it.
    int expected = !strcmp(mode, "ambient") || !strcmp(mode, "euid0");
    printf("open secret: %s\n", expected ? "ok" : "LEAK (capabilities survived execve)");
    close(fd);
  } else {
    printf("open secret: %s\n", errname(errno));
  }
  fflush(stdout);
  return 0;
}

static int capset_inheritable(int cap) {
  struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct d[2];
  if (syscall(SYS_capget, &h, d) < 0) return -1;
  d[cap / 32].inheritable |= 1u << (cap % 32);
  return (int)syscall(SYS_capset, &h, d);
}

static void run(const char* mode, const char* copy, const char* secret) {
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    if (!strcmp(mode, "ambient") && capset_inheritable(CAP_DAC_OVERRIDE) < 0) {
      printf("capset: %s\n", errname(errno));
      _exit(1);
    }
    if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0) printf("keepcaps: %s\n", errname(errno));
    if (setgroups(0, NULL) < 0) printf("setgroups: %s\n", errname(errno));
    if (setresgid(65534, 65534, 65534) < 0) printf("setresgid: %s\n", errname(errno));
    int r = !strcmp(mode, "euid0") ? setresuid(65534, 0, 0) : setresuid(65534, 65534, 65534);
    if (r < 0) printf("setresuid: %s\n", errname(errno));
    if (!strcmp(mode, "keepcaps")) {
      // What setpriv --reuid leaves: every permitted capability effective
      // again (capset may raise pE up to pP).
      struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
      struct __user_cap_data_struct d[2];
      if (syscall(SYS_capget, &h, d) == 0) {
        d[0].effective = d[0].permitted;
        d[1].effective = d[1].permitted;
        if (syscall(SYS_capset, &h, d) < 0) printf("capset: %s\n", errname(errno));
      }
      int fd = open(secret, O_RDONLY);
      printf("before execve, open secret: %s\n", fd >= 0 ? "ok" : errname(errno));
      if (fd >= 0) close(fd);
    }
    if (!strcmp(mode, "ambient")) {
      SHOW(prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_DAC_OVERRIDE, 0, 0));
      SHOW(prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, CAP_DAC_OVERRIDE, 0, 0));
      SHOW(prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, CAP_CHOWN, 0, 0));
      SHOW(prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_CHOWN, 0, 0));
      SHOW(prctl(PR_CAP_AMBIENT, 99, 0, 0, 0));
    }
    fflush(stdout);
    execl(copy, copy, "child", mode, secret, (char*)NULL);
    printf("execl: %s\n", errname(errno));
    _exit(1);
  }
  int st;
  waitpid(pid, &st, 0);
  printf("[%s] child: %s %d\n", mode, WIFEXITED(st) ? "exit" : "signal",
         WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
}

int main(int argc, char** argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (argc == 4 && !strcmp(argv[1], "child")) return child(argv[2], argv[3]);
  if (geteuid() != 0) {
    printf("needs root\n");
    return 0;
  }
  char dir[] = "/tmp/exec_caps.XXXXXX";
  if (!mkdtemp(dir) || chmod(dir, 0755) < 0) return 1;
  char secret[64], copy[64];
  snprintf(secret, sizeof secret, "%s/secret", dir);
  snprintf(copy, sizeof copy, "%s/prog", dir);
  int fd = open(secret, O_WRONLY | O_CREAT | O_EXCL, 0600);
  if (fd < 0 || write(fd, "s3cret\n", 7) != 7) return 1;
  close(fd);
  // A copy of this program that uid 65534 may execute.
  int in = open("/proc/self/exe", O_RDONLY), out = open(copy, O_WRONLY | O_CREAT | O_EXCL, 0755);
  if (in < 0 || out < 0) return 1;
  char buf[65536];
  ssize_t n;
  while ((n = read(in, buf, sizeof buf)) > 0)
    if (write(out, buf, n) != n) return 1;
  close(in);
  close(out);
  run("keepcaps", copy, secret);
  run("ambient", copy, secret);
  run("euid0", copy, secret);
  unlink(copy);
  unlink(secret);
  rmdir(dir);
  return 0;
}
