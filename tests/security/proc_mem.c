// Finding 1 of docs/security.md: /proc/<self>/mem must be the guest's own
// memory, never elfuse's. For every name of the process's mem file
// (/proc/self/mem, /proc/thread-self/mem, /proc/PID/mem,
// /proc/self/task/TID/mem), and through a symlink to it: the file opens (as
// on Linux, a process may always read and write itself), and what it reads
// at the program's own code and ELF header is that code and header, and
// what it writes lands in the program's own buffer. The program prints
// LEAK when it reads or writes anything else (elfuse's image sits at
// 0x400000 too when it is not position-independent). A forked child's mem,
// which a parent may read natively, must likewise be the child's copy of
// the program or refused (elfuse refuses another process's mem: EACCES).
// Then the host object behind the guest's descriptor, reached by paths
// that are not read(2): sendfile, splice, copy_file_range (EINVAL,
// EOVERFLOW or EXDEV as on Linux, whose mem file has no splice_read),
// mmap (ENODEV), a reopening through /proc/self/fd/N, an inherited fd in
// a forked child and one received over SCM_RIGHTS (Linux reads the other
// process's memory through them; elfuse cannot reach it and answers EIO:
// either way only the program's own bytes, never elfuse's).
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
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
    printf("%s: open %s\n", label, errname(errno));
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

// What a read through `fd` at the program's own code gives: its bytes
// (1), nothing (0, with the errno printed), or something else (LEAK).
static int classify_read(const char* label, int fd) {
  unsigned char buf[16];
  errno = 0;
  ssize_t n = pread(fd, buf, sizeof buf, (off_t)(uintptr_t)marker);
  if (n == (ssize_t)sizeof buf && memcmp(buf, (const void*)marker, sizeof buf) == 0) return 1;
  if (n < 0 && errno == EIO) return 0;
  printf("%s: LEAK (read %zd %s)\n", label, n, n < 0 ? errname(errno) : "bytes");
  return -1;
}

// The guest's mem descriptor reached by paths other than read(2).
static int hostile_paths(void) {
  int bad = 0;
  int fd = open("/proc/self/mem", O_RDWR);
  if (fd < 0) {
    printf("open: %s\n", errname(errno));
    return 1;
  }
  int p[2];
  if (pipe(p) != 0) return 1;
  int f = open("plain", O_RDWR | O_CREAT | O_TRUNC, 0600);
  if (f < 0 || write(f, "plain file bytes", 16) != 16) return 1;

  // sendfile/splice/copy_file_range from and into it: the kernel's mem file
  // has no splice_read or splice_write; nothing may come out of it.
  off_t off = (off_t)(uintptr_t)marker;
  errno = 0;
  long r = sendfile(p[1], fd, &off, 16);
  printf("sendfile from mem at code: %ld %s\n", r, r < 0 ? errname(errno) : "");
  errno = 0;
  r = sendfile(p[1], fd, NULL, 16);
  printf("sendfile from mem at its position: %ld %s\n", r, r < 0 ? errname(errno) : "");
  off = 0;
  errno = 0;
  r = sendfile(fd, f, &off, 16);
  printf("sendfile into mem: %ld %s\n", r, r < 0 ? errname(errno) : "");
  loff_t lo = (loff_t)(uintptr_t)marker;
  errno = 0;
  r = splice(fd, &lo, p[1], NULL, 16, 0);
  printf("splice from mem: %ld %s\n", r, r < 0 ? errname(errno) : "");
  errno = 0;
  r = splice(fd, NULL, p[1], NULL, 16, 0);
  printf("splice from mem at its position: %ld %s\n", r, r < 0 ? errname(errno) : "");
  if (write(p[1], "xy", 2) != 2) return 1;
  lo = (loff_t)(uintptr_t)target;
  errno = 0;
  r = splice(p[0], NULL, fd, &lo, 2, 0);
  printf("splice into mem: %ld %s\n", r, r < 0 ? errname(errno) : "");
  lo = (loff_t)(uintptr_t)marker;
  loff_t lf = 0;
  errno = 0;
  r = copy_file_range(fd, &lo, f, &lf, 16, 0);
  printf("copy_file_range from mem: %ld %s\n", r, r < 0 ? errname(errno) : "");
  lo = (loff_t)(uintptr_t)target;
  lf = 0;
  errno = 0;
  r = copy_file_range(f, &lf, fd, &lo, 16, 0);
  printf("copy_file_range into mem: %ld %s\n", r, r < 0 ? errname(errno) : "");
  // Whatever reached the pipe (nothing should have): the two bytes written
  // into it stay there when splice into mem failed.
  char pb[64];
  fcntl(p[0], F_SETFL, O_NONBLOCK);
  errno = 0;
  r = read(p[0], pb, sizeof pb);
  printf("pipe holds: %ld %s\n", r, r < 0 ? errname(errno) : "");
  char fb[17] = {0};
  if (pread(f, fb, 16, 0) != 16) return 1;
  printf("plain file: %s\n", fb);

  // mmap: the kernel's mem file has none.
  for (int shared = 0; shared < 2; shared++) {
    void* m = mmap(NULL, 4096, PROT_READ, shared ? MAP_SHARED : MAP_PRIVATE, fd, 0);
    printf("mmap %s: %s\n", shared ? "shared" : "private",
           m == MAP_FAILED ? errname(errno) : "MAPPED");
    if (m != MAP_FAILED) {
      bad |= 1;
      munmap(m, 4096);
    }
  }
  struct stat st;
  if (fstat(fd, &st) == 0)
    printf("fstat: %s, mode %o, size %ld\n", S_ISREG(st.st_mode) ? "regular" : "other",
           (unsigned)(st.st_mode & 07777), (long)st.st_size);

  // Opened again through /proc/self/fd/N: the same process's memory.
  char path[64];
  snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
  int again = open(path, O_RDONLY);
  if (again < 0) {
    printf("reopen: %s\n", errname(errno));
  } else {
    int c = classify_read("reopen", again);
    if (c < 0) bad |= 2;
    printf("reopen: %s\n", c == 1 ? "the program's own memory" : c == 0 ? "EIO" : "LEAK");
    close(again);
  }

  // Inherited by a forked child. Linux: the parent's memory (the same code
  // here); elfuse: EIO (another process's guest memory is out of reach).
  // A write of the same bytes must not land anywhere else either.
  fflush(stdout);
  pid_t child = fork();
  if (child == 0) {
    int c = classify_read("inherited", fd);
    unsigned char same[16];
    memcpy(same, (const void*)marker, sizeof same);
    ssize_t w = pwrite(fd, same, sizeof same, (off_t)(uintptr_t)marker);
    int wok = w == (ssize_t)sizeof same || (w < 0 && errno == EIO);
    printf("inherited fd in a child: %s\n",
           c < 0 || !wok ? "LEAK" : "the program's own memory or EIO");
    fflush(stdout);
    // The child's own mem is its own memory.
    int own = open("/proc/self/mem", O_RDONLY);
    int oc = own < 0 ? -2 : classify_read("child's own", own);
    printf("child's own mem: %s\n", oc == 1    ? "its own memory"
                                    : oc == -2 ? errname(errno)
                                    : oc == 0  ? "EIO"
                                               : "LEAK");
    fflush(stdout);
    _exit(c < 0 || !wok || oc != 1);
  }
  int status = 0;
  waitpid(child, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) bad |= 4;

  // Sent to another process over SCM_RIGHTS, opened after the fork.
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) return 1;
  fflush(stdout);
  child = fork();
  if (child == 0) {
    close(sv[0]);
    char byte;
    char ctl[CMSG_SPACE(sizeof(int))];
    struct iovec io = {&byte, 1};
    struct msghdr mh = {0};
    mh.msg_iov = &io;
    mh.msg_iovlen = 1;
    mh.msg_control = ctl;
    mh.msg_controllen = sizeof ctl;
    if (recvmsg(sv[1], &mh, 0) != 1) _exit(3);
    struct cmsghdr* cm = CMSG_FIRSTHDR(&mh);
    if (!cm || cm->cmsg_type != SCM_RIGHTS) _exit(3);
    int got;
    memcpy(&got, CMSG_DATA(cm), sizeof got);
    int c = classify_read("received", got);
    printf("received fd: %s\n", c < 0 ? "LEAK" : "the program's own memory or EIO");
    fflush(stdout);
    _exit(c < 0);
  }
  close(sv[1]);
  int sent = open("/proc/self/mem", O_RDONLY);
  {
    char byte = 'x';
    char ctl[CMSG_SPACE(sizeof(int))];
    memset(ctl, 0, sizeof ctl);
    struct iovec io = {&byte, 1};
    struct msghdr mh = {0};
    mh.msg_iov = &io;
    mh.msg_iovlen = 1;
    mh.msg_control = ctl;
    mh.msg_controllen = sizeof ctl;
    struct cmsghdr* cm = CMSG_FIRSTHDR(&mh);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cm), &sent, sizeof sent);
    if (sendmsg(sv[0], &mh, 0) != 1) return 1;
  }
  waitpid(child, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) bad |= 8;
  close(sent);
  close(sv[0]);
  close(fd);
  close(f);
  unlink("plain");
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
  bad |= hostile_paths() << 5;
  return bad ? 1 : 0;
}
