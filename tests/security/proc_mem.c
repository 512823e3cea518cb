// Finding 1 of docs/security.md: /proc/<self>/mem must be the guest's own
// memory, never elfuse's. For every name of the process's mem file
// (/proc/self/mem, /proc/thread-self/mem, /proc/PID/mem,
// /proc/self/task/TID/mem), and through a symlink to it: when the file opens,
// what it reads at the program's own code and ELF header is that code and
// header, and what it writes lands in the program's own buffer. A refused open
// is also what Linux gives a process without ptrace access to itself, so the
// program prints the same line either way; it prints LEAK when it reads or
// writes anything else (elfuse's image sits at 0x400000 too when it is not
// position-independent). A forked child's mem, which a parent may read
// natively, must likewise be the child's copy of the program or refused.
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"

static char target[64] = "the guest's own buffer";

__attribute__((noinline)) static int marker(int x) {
  return x * 7 + 3;
}

// The first bytes of the program's own file, which a static non-PIE program
// also has mapped at its first PT_LOAD (0x400000).
static int own_header(unsigned char* out, size_t n) {
  int fd = open("/proc/self/exe", O_RDONLY);
  if (fd < 0) return -1;
  ssize_t r = pread(fd, out, n, 0);
  close(fd);
  return r == (ssize_t)n ? 0 : -1;
}

static int check(const char* label, const char* path) {
  int fd = open(path, O_RDWR);
  if (fd < 0) {
    printf("%s: only the program's own memory\n", label);
    return 0;
  }
  int bad = 0;
  unsigned char buf[64];
  // Its own code.
  ssize_t n = pread(fd, buf, 16, (off_t)(uintptr_t)marker);
  if (n == 16 && memcmp(buf, (const void*)marker, 16) != 0) bad |= 1;
  // Its own ELF header where a non-PIE program starts.
  unsigned char hdr[64];
  if (own_header(hdr, sizeof hdr) == 0) {
    n = pread(fd, buf, sizeof buf, 0x400000);
    if (n == (ssize_t)sizeof buf && memcmp(buf, hdr, sizeof buf) != 0) bad |= 2;
  }
  // A write lands in its own buffer.
  static const char msg[] = "written through mem";
  n = pwrite(fd, msg, sizeof msg, (off_t)(uintptr_t)target);
  if (n == (ssize_t)sizeof msg && strcmp(target, msg) != 0) bad |= 4;
  if (n == (ssize_t)sizeof msg) strcpy(target, "the guest's own buffer");
  close(fd);
  if (bad)
    printf("%s: LEAK (%s%s%s)\n", label, bad & 1 ? "code " : "", bad & 2 ? "header " : "",
           bad & 4 ? "write" : "");
  else
    printf("%s: only the program's own memory\n", label);
  return bad;
}

int main(void) {
  char path[128];
  int bad = 0;
  if (marker(1) != 10) return 2;
  bad |= check("self", "/proc/self/mem");
  bad |= check("thread-self", "/proc/thread-self/mem");
  snprintf(path, sizeof path, "/proc/%d/mem", getpid());
  bad |= check("pid", path);
  snprintf(path, sizeof path, "/proc/self/task/%d/mem", getpid());
  bad |= check("task", path);
  // Through a symlink of the program's own (in a directory of its own).
  char dir[] = "/tmp/proc_mem.XXXXXX";
  if (!mkdtemp(dir)) return 2;
  snprintf(path, sizeof path, "%s/link", dir);
  if (symlink("/proc/self/mem", path) != 0) return 2;
  bad |= check("symlink", path);
  unlink(path);
  rmdir(dir);
  // Through /proc/self as a directory fd.
  int d = open("/proc/self", O_RDONLY | O_DIRECTORY);
  if (d >= 0) {
    int fd = openat(d, "mem", O_RDONLY);
    unsigned char buf[16];
    if (fd >= 0) {
      ssize_t n = pread(fd, buf, 16, (off_t)(uintptr_t)marker);
      if (n == 16 && memcmp(buf, (const void*)marker, 16) != 0) bad |= 8;
      close(fd);
    }
    close(d);
  }
  printf("dirfd: %s\n", bad & 8 ? "LEAK" : "only the program's own memory");
  // A forked child's mem (natively the parent may trace its child): what it
  // reads there is the child's copy of the program, or the open is refused.
  int go[2];
  if (pipe(go) != 0) return 2;
  fflush(stdout);
  pid_t child = fork();
  if (child == 0) {
    char c;
    close(go[1]);
    if (read(go[0], &c, 1) < 0) _exit(1);
    _exit(0);
  }
  close(go[0]);
  snprintf(path, sizeof path, "/proc/%d/mem", child);
  int cfd = open(path, O_RDONLY);
  int child_bad = 0;
  if (cfd >= 0) {
    unsigned char buf[64], hdr[64];
    ssize_t n = pread(cfd, buf, 16, (off_t)(uintptr_t)marker);
    if (n == 16 && memcmp(buf, (const void*)marker, 16) != 0) child_bad = 1;
    if (own_header(hdr, sizeof hdr) == 0) {
      n = pread(cfd, buf, sizeof buf, 0x400000);
      if (n == (ssize_t)sizeof buf && memcmp(buf, hdr, sizeof buf) != 0) child_bad = 1;
    }
    close(cfd);
  }
  close(go[1]);
  waitpid(child, NULL, 0);
  printf("child: %s\n", child_bad ? "LEAK" : "only the child's copy of the program");
  bad |= child_bad << 4;
  return bad ? 1 : 0;
}
