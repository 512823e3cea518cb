// inotify: a watch on a fresh directory sees create, modify, attribute,
// rename, delete events with their names and cookies pairing the two halves
// of a rename; IN_NONBLOCK and IN_CLOEXEC; poll and epoll on the instance;
// the errors for bad fds, masks and paths; watch descriptors and
// inotify_rm_watch's IN_IGNORED. Compared with native.
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"

static const char* const kNames[] = {
    "IN_ACCESS",      "IN_MODIFY",     "IN_ATTRIB",     "IN_CLOSE_WRITE", "IN_CLOSE_NOWRITE",
    "IN_OPEN",        "IN_MOVED_FROM", "IN_MOVED_TO",   "IN_CREATE",      "IN_DELETE",
    "IN_DELETE_SELF", "IN_MOVE_SELF",  "bit12",         "IN_UNMOUNT",     "IN_Q_OVERFLOW",
    "IN_IGNORED",
};

static void print_mask(uint32_t m) {
  int first = 1;
  for (int b = 0; b < 16; b++)
    if (m & (1u << b)) {
      printf("%s%s", first ? "" : "|", kNames[b]);
      first = 0;
    }
  if (m & IN_ISDIR) printf("|IN_ISDIR");
  if (first && !(m & IN_ISDIR)) printf("0");
}

// Reads every queued event and prints it; wd printed relative to the
// directory's watch; rename cookies printed as "paired" when equal.
static uint32_t last_cookie;
static void drain(int fd, int dir_wd) {
  char buf[4096] __attribute__((aligned(8)));
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n <= 0) {
      if (n < 0) printf("  read: %s\n", errname(errno));
      return;
    }
    for (char* p = buf; p < buf + n;) {
      struct inotify_event* e = (struct inotify_event*)p;
      printf("  wd%s ", e->wd == dir_wd ? "=dir" : "!=dir");
      print_mask(e->mask);
      if (e->len) printf(" name=%s", e->name);
      if (e->mask & IN_MOVED_FROM) last_cookie = e->cookie;
      if (e->mask & IN_MOVED_TO) printf(" cookie %s", e->cookie == last_cookie ? "paired" : "unpaired");
      printf(" len%%8=%u\n", e->len % 8);
      p += sizeof *e + e->len;
    }
  }
}

// tests/sysroot_test.sh's root: watches through the escape symlinks land on
// the files inside the root.
static int sysroot_mode(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  int fd = inotify_init1(IN_NONBLOCK);
  int h = inotify_add_watch(fd, "/etc/hostname", IN_MODIFY | IN_ATTRIB);
  printf("hostname wd %d\n", h);
  printf("/a/abs wd %d\n", inotify_add_watch(fd, "/a/abs", IN_MODIFY));
  printf("/a/b/c/rel wd %d\n", inotify_add_watch(fd, "/a/b/c/rel", IN_MODIFY));
  printf("/a/root/etc/hostname wd %d\n", inotify_add_watch(fd, "/a/root/etc/hostname", IN_MODIFY));
  SHOW(inotify_add_watch(fd, "/a/passwd", IN_MODIFY));  // /etc/passwd inside: none
  printf("/a/abs itself wd %d\n", inotify_add_watch(fd, "/a/abs", IN_ATTRIB | IN_DONT_FOLLOW));
  SHOW(inotify_add_watch(fd, "/a/abs", IN_ATTRIB | IN_ONLYDIR));
  int d = inotify_add_watch(fd, "/a/b/up", IN_CREATE | IN_DELETE | IN_ONLYDIR);  // the root
  printf("/a/b/up wd %d\n", d);
  if (chdir("/a/b") != 0) return 1;
  printf("relative ../../etc/motd wd %d\n", inotify_add_watch(fd, "../../etc/motd", IN_OPEN));
  SHOW(inotify_add_watch(fd, "no-such", IN_OPEN));
  SHOW(inotify_add_watch(9999, "no-such", IN_OPEN));  // EBADF before the lookup
  SHOW(inotify_add_watch(fd, "no-such", 0));          // EINVAL before the lookup
  int f = open("/etc/hostname", O_WRONLY | O_APPEND);
  if (f < 0 || write(f, "x\n", 2) != 2) return 1;
  close(f);
  close(open("/tmp-inotify-probe", O_CREAT | O_WRONLY, 0600));
  unlink("/tmp-inotify-probe");
  drain(fd, h);
  return 0;
}

int main(int argc, char** argv) {
  if (argc == 2 && strcmp(argv[1], "sysroot") == 0) return sysroot_mode();
  char dir[] = "inotify-XXXXXX";
  if (!mkdtemp(dir)) return 1;
  char path[256];

  int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  printf("init1 ok: %d\n", fd >= 0);
  printf("cloexec: %d nonblock: %d\n", (fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0,
         (fcntl(fd, F_GETFL) & O_NONBLOCK) != 0);
  int wd = inotify_add_watch(fd, dir, IN_ALL_EVENTS);
  printf("add_watch ok: %d\n", wd > 0);
  // The same inode again: the same watch descriptor.
  CHECK(inotify_add_watch(fd, dir, IN_CREATE) == wd);
  SHOW(inotify_add_watch(fd, dir, IN_ALL_EVENTS | IN_MASK_CREATE));  // EEXIST
  OK(inotify_add_watch(fd, dir, IN_ALL_EVENTS | IN_MASK_ADD));
  SHOW(read(fd, path, sizeof path));  // nothing yet: EAGAIN

  printf("create, write, chmod, close:\n");
  snprintf(path, sizeof path, "%s/a", dir);
  int f = open(path, O_CREAT | O_WRONLY, 0600);
  if (write(f, "hello", 5) != 5) return 1;
  fchmod(f, 0644);
  close(f);
  drain(fd, wd);

  printf("read it back:\n");
  f = open(path, O_RDONLY);
  char c[8];
  if (read(f, c, sizeof c) < 0) return 1;
  close(f);
  drain(fd, wd);

  printf("rename, mkdir, rmdir, unlink:\n");
  char path2[256];
  snprintf(path2, sizeof path2, "%s/b", dir);
  rename(path, path2);
  snprintf(path, sizeof path, "%s/sub", dir);
  mkdir(path, 0700);
  rmdir(path);
  unlink(path2);
  drain(fd, wd);

  // poll and epoll on the instance: readable only with events queued.
  struct pollfd pfd = {.fd = fd, .events = POLLIN};
  SHOW(poll(&pfd, 1, 0));
  int ep = epoll_create1(0);
  struct epoll_event ev = {.events = EPOLLIN, .data.u32 = 7}, out[2];
  OK(epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev));
  SHOW(epoll_wait(ep, out, 2, 0));
  snprintf(path, sizeof path, "%s/c", dir);
  close(open(path, O_CREAT | O_WRONLY, 0600));
  SHOW(poll(&pfd, 1, 1000));
  printf("revents %#x\n", pfd.revents);
  SHOW(epoll_wait(ep, out, 2, 1000));
  printf("epoll data %u events %#x\n", out[0].data.u32, out[0].events);
  // FIONREAD: the bytes queued.
  int queued = -1;
  OK(ioctl(fd, FIONREAD, &queued));
  printf("queued %d\n", queued);
  drain(fd, wd);
  unlink(path);
  drain(fd, wd);
  close(ep);

  // A watch on a file; IN_ONLYDIR and IN_DONT_FOLLOW.
  snprintf(path, sizeof path, "%s/file", dir);
  close(open(path, O_CREAT | O_WRONLY, 0600));
  snprintf(path2, sizeof path2, "%s/link", dir);
  if (symlink("file", path2) != 0) return 1;
  drain(fd, wd);
  int fwd = inotify_add_watch(fd, path, IN_MODIFY | IN_ATTRIB | IN_DELETE_SELF);
  printf("file watch ok: %d distinct: %d\n", fwd > 0, fwd != wd);
  SHOW(inotify_add_watch(fd, path, IN_MODIFY | IN_ONLYDIR));
  CHECK(inotify_add_watch(fd, path2, IN_MODIFY) == fwd);             // followed: the file
  int lwd = inotify_add_watch(fd, path2, IN_ATTRIB | IN_DONT_FOLLOW);  // the link itself
  printf("link watch distinct: %d\n", lwd > 0 && lwd != fwd);
  truncate(path, 3);
  drain(fd, wd);
  OK(inotify_rm_watch(fd, lwd));
  SHOW(inotify_rm_watch(fd, lwd));
  drain(fd, wd);  // IN_IGNORED for the removed watch
  unlink(path2);
  unlink(path);
  drain(fd, wd);

  // Errors.
  SHOW(inotify_add_watch(fd, dir, 0));                          // no event bits
  SHOW(inotify_add_watch(fd, dir, IN_MASK_ADD | IN_MASK_CREATE | IN_CREATE));
  SHOW(inotify_add_watch(-1, dir, IN_CREATE));
  SHOW(inotify_add_watch(9999, dir, IN_CREATE));
  SHOW(inotify_add_watch(9999, dir, 0));                        // mask before fd
  SHOW(inotify_add_watch(0, dir, IN_CREATE));                   // not an inotify fd
  SHOW(inotify_add_watch(fd, "no/such/dir", IN_CREATE));
  SHOW(inotify_add_watch(fd, (const char*)1, IN_CREATE));
  SHOW(inotify_add_watch(9999, (const char*)1, IN_CREATE));     // fd before path
  char* longname = malloc(5000);
  memset(longname, 'x', 4999);
  longname[4999] = 0;
  SHOW(inotify_add_watch(fd, longname, IN_CREATE));
  free(longname);
  SHOW(inotify_rm_watch(fd, 12345));
  SHOW(inotify_rm_watch(-1, wd));
  SHOW(inotify_rm_watch(0, wd));
  SHOW(inotify_init1(IN_NONBLOCK << 1));
  SHOW(inotify_init1(12345));

  // A blocking instance from inotify_init: read waits for an event.
  int bfd = syscall(SYS_inotify_init);
  printf("init ok: %d cloexec: %d\n", bfd >= 0, (fcntl(bfd, F_GETFD) & FD_CLOEXEC) != 0);
  int bwd = inotify_add_watch(bfd, dir, IN_CREATE);
  printf("bwd ok: %d\n", bwd > 0);
  if (fork() == 0) {
    usleep(20000);
    snprintf(path, sizeof path, "%s/late", dir);
    close(open(path, O_CREAT | O_WRONLY, 0600));
    _exit(0);
  }
  char buf[256];
  ssize_t n = read(bfd, buf, sizeof buf);
  struct inotify_event* e = (struct inotify_event*)buf;
  printf("blocking read: %d name=%s create=%d\n", n > 0, n > 0 ? e->name : "",
         n > 0 && (e->mask & IN_CREATE) != 0);
  wait(NULL);
  // A read buffer too small for one event: EINVAL.
  snprintf(path, sizeof path, "%s/late2", dir);
  close(open(path, O_CREAT | O_WRONLY, 0600));
  SHOW(read(bfd, buf, sizeof(struct inotify_event)));
  close(bfd);

  snprintf(path, sizeof path, "%s/late", dir);
  unlink(path);
  snprintf(path, sizeof path, "%s/late2", dir);
  unlink(path);
  OK(inotify_rm_watch(fd, wd));
  drain(fd, wd);
  rmdir(dir);
  close(fd);
  return 0;
}
