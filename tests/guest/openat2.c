// openat2 (the struct's size rules, flag checks before the path, RESOLVE_*
// flags), open_tree without a clone, and file handles (name_to_handle_at,
// open_by_handle_at). Inode numbers and handle bytes differ between runs,
// so the program prints sizes, types, errnos and whether two fds name the
// same file.
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common.h"
#include "own_dir.h"

#ifndef SYS_openat2
#define SYS_openat2 437
#endif
#ifndef SYS_open_tree
#define SYS_open_tree 428
#endif
#define RESOLVE_NO_XDEV 0x01
#define RESOLVE_NO_MAGICLINKS 0x02
#define RESOLVE_NO_SYMLINKS 0x04
#define RESOLVE_BENEATH 0x08
#define RESOLVE_IN_ROOT 0x10
#define RESOLVE_CACHED 0x20

struct how {
  uint64_t flags, mode, resolve;
};

// openat2(2) asks callers to retry EAGAIN: a scoped `..` fails so when any
// rename happened on the system meanwhile (other tests run in parallel).
static long o2(int dirfd, const char* path, uint64_t flags, uint64_t mode, uint64_t resolve) {
  struct how h = {flags, mode, resolve};
  long r;
  for (int i = 0; i < 1000; i++) {
    r = syscall(SYS_openat2, dirfd, path, &h, sizeof h);
    if (r >= 0 || errno != EAGAIN) break;
  }
  return r;
}

static void same(const char* what, int a, int b) {
  struct stat sa, sb;
  if (a < 0 || b < 0 || fstat(a, &sa) || fstat(b, &sb)) {
    printf("%s: no\n", what);
    return;
  }
  printf("%s: %s\n", what, sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino ? "same" : "other");
}

struct handle {
  unsigned int handle_bytes;
  int handle_type;
  unsigned char f_handle[128];
};

// tests/sysroot_test.sh's root (case openat2): the RESOLVE_* flags through
// its escape links, and file handles of files inside it, the same under
// chroot and under elfuse --sysroot.
static int sysroot_mode(void) {
  char buf[64];
  const char* paths[] = {"/a/abs", "a/abs", "/a/b/c/rel", "/a/b/up/etc/motd", "a/b/up/etc/motd",
                         "/a/root/etc/hostname", "/a/magic/etc/hostname"};
  uint64_t resolves[] = {0, RESOLVE_NO_SYMLINKS, RESOLVE_BENEATH, RESOLVE_IN_ROOT,
                         RESOLVE_NO_MAGICLINKS, RESOLVE_NO_XDEV};
  int a = open("/a", O_RDONLY | O_DIRECTORY);
  for (unsigned i = 0; i < sizeof paths / sizeof paths[0]; i++) {
    for (unsigned j = 0; j < sizeof resolves / sizeof resolves[0]; j++) {
      for (int at_a = 0; at_a < 2; at_a++) {
        // elfuse's documented limit (docs/syscalls.md, openat2): a `..`
        // above the start of a relative walk with RESOLVE_NO_XDEV.
        if (!at_a && resolves[j] == RESOLVE_NO_XDEV && strcmp(paths[i], "a/b/up/etc/motd") == 0)
          continue;
        errno = 0;
        int fd = (int)o2(at_a ? a : AT_FDCWD, paths[i], O_RDONLY, 0, resolves[j]);
        memset(buf, 0, sizeof buf);
        if (fd >= 0) read(fd, buf, sizeof buf - 1);
        buf[strcspn(buf, "\n")] = 0;
        printf("%s%s resolve %#llx: %s\n", at_a ? "a:" : "", paths[i],
               (unsigned long long)resolves[j], fd >= 0 ? buf : errname(errno));
        if (fd >= 0) close(fd);
      }
    }
  }
  struct handle fh = {.handle_bytes = sizeof fh.f_handle};
  int mount_id;
  SHOW(name_to_handle_at(AT_FDCWD, "/a/abs", (void*)&fh, &mount_id, AT_SYMLINK_FOLLOW));
  int root = open("/", O_RDONLY | O_DIRECTORY);
  int fd = (int)SHOW(open_by_handle_at(root, (void*)&fh, O_RDONLY));
  memset(buf, 0, sizeof buf);
  read(fd, buf, sizeof buf - 1);
  printf("by handle: %s", buf);
  return 0;
}

int main(int argc, char** argv) {
  if (argc == 2 && strcmp(argv[1], "sysroot") == 0) return sysroot_mode();
  own_dir_enter();
  mkdir("dir", 0755);
  mkdir("dir/sub", 0755);
  int fd = open("dir/sub/file", O_WRONLY | O_CREAT, 0644);
  write(fd, "contents", 8);
  close(fd);
  symlink("sub/file", "dir/rel");
  symlink("/etc/hostname", "dir/abs");
  symlink("../..", "dir/sub/up");

  // The struct: size, tail, pointer; the flags before the path.
  struct how h = {O_RDONLY, 0, 0};
  char big[64] = {0};
  memcpy(big, &h, sizeof h);
  SHOW(syscall(SYS_openat2, AT_FDCWD, "dir", &h, 23));
  SHOW(syscall(SYS_openat2, AT_FDCWD, "dir", &h, 8192));
  fd = (int)SHOW(syscall(SYS_openat2, AT_FDCWD, "dir", big, sizeof big));
  close(fd);
  big[40] = 1;
  SHOW(syscall(SYS_openat2, AT_FDCWD, "dir", big, sizeof big));
  SHOW(syscall(SYS_openat2, AT_FDCWD, "dir", (void*)8, sizeof h));
  SHOW(o2(AT_FDCWD, (char*)8, O_RDONLY, 0, 0));
  SHOW(o2(AT_FDCWD, (char*)8, 1ULL << 40, 0, 0));
  SHOW(o2(AT_FDCWD, (char*)8, O_RDONLY, 0644, 0));
  SHOW(o2(AT_FDCWD, (char*)8, O_RDONLY, 0, 0x100));
  SHOW(o2(AT_FDCWD, (char*)8, O_RDONLY, 0, RESOLVE_BENEATH | RESOLVE_IN_ROOT));
  SHOW(o2(AT_FDCWD, "dir/new", O_CREAT | O_WRONLY, 010000, 0));
  SHOW(o2(AT_FDCWD, "dir/new", O_CREAT | O_WRONLY, 0600, 0));
  SHOW(o2(AT_FDCWD, "dir/x", O_WRONLY, 0600, 0));
  SHOW(o2(AT_FDCWD, "", O_RDONLY, 0, 0));
  SHOW(o2(1030, "file", O_RDONLY, 0, 0));

  // RESOLVE_* flags.
  int dir = open("dir", O_RDONLY | O_DIRECTORY);
  fd = (int)SHOW(o2(dir, "rel", O_RDONLY, 0, 0));
  close(fd);
  SHOW(o2(dir, "rel", O_RDONLY, 0, RESOLVE_NO_SYMLINKS));
  SHOW(o2(dir, "rel", O_RDONLY | O_PATH | O_NOFOLLOW, 0, RESOLVE_NO_SYMLINKS));
  fd = (int)SHOW(o2(dir, "rel", O_RDONLY, 0, RESOLVE_BENEATH));
  close(fd);
  SHOW(o2(dir, "abs", O_RDONLY, 0, RESOLVE_BENEATH));
  SHOW(o2(dir, "sub/up", O_RDONLY, 0, RESOLVE_BENEATH));
  SHOW(o2(dir, "..", O_RDONLY, 0, RESOLVE_BENEATH));
  SHOW(o2(dir, "/etc/hostname", O_RDONLY, 0, RESOLVE_BENEATH));
  // In a root at dir: "/sub/file" and ".." stay inside; the absolute
  // symlink resolves inside too (no etc there).
  fd = (int)SHOW(o2(dir, "/sub/file", O_RDONLY, 0, RESOLVE_IN_ROOT));
  char buf[16] = {0};
  read(fd, buf, sizeof buf - 1);
  printf("in root: '%s'\n", buf);
  close(fd);
  fd = (int)SHOW(o2(dir, "../../sub/file", O_RDONLY, 0, RESOLVE_IN_ROOT));
  close(fd);
  SHOW(o2(dir, "abs", O_RDONLY, 0, RESOLVE_IN_ROOT));
  fd = (int)SHOW(o2(dir, "sub/up/rel", O_RDONLY, 0, RESOLVE_IN_ROOT));
  close(fd);
  SHOW(o2(AT_FDCWD, "/proc/self/exe", O_RDONLY, 0, RESOLVE_NO_MAGICLINKS));
  SHOW(o2(AT_FDCWD, "/proc/self/fd/0", O_RDONLY, 0, RESOLVE_NO_MAGICLINKS));
  SHOW(o2(AT_FDCWD, "/proc/self/status", O_RDONLY, 0, RESOLVE_NO_SYMLINKS));
  SHOW(o2(AT_FDCWD, "/proc/self/status", O_RDONLY, 0, RESOLVE_NO_XDEV));
  SHOW(o2(AT_FDCWD, "dir/sub/file", O_RDONLY, 0, RESOLVE_NO_XDEV) >= 0);

  // The exe link and the generated /proc files are the guest's own.
  int exe = (int)o2(AT_FDCWD, "/proc/self/exe", O_RDONLY, 0, 0);
  int exe2 = open("/proc/self/exe", O_RDONLY);
  same("openat2 /proc/self/exe vs open", exe, exe2);
  char self[64];
  snprintf(self, sizeof self, "/proc/%d/cmdline", (int)getpid());
  int cmd = (int)o2(AT_FDCWD, self, O_RDONLY, 0, RESOLVE_NO_MAGICLINKS);
  char cmdline[256] = {0};
  ssize_t n = read(cmd, cmdline, sizeof cmdline - 1);
  printf("cmdline via openat2 ends in /openat2: %s\n",
         n > 8 && strcmp(cmdline + strlen(cmdline) - 8, "/openat2") == 0 ? "yes" : "no");

  // open_tree without OPEN_TREE_CLONE: an O_PATH fd.
  int t = (int)SHOW(syscall(SYS_open_tree, AT_FDCWD, "dir/rel", 0));
  printf("O_PATH: %s\n", (fcntl(t, F_GETFL) & O_PATH) ? "yes" : "no");
  printf("cloexec: %s\n", (fcntl(t, F_GETFD) & FD_CLOEXEC) ? "yes" : "no");
  int file = open("dir/sub/file", O_RDONLY);
  same("open_tree follows", t, file);
  int t2 = (int)SHOW(syscall(SYS_open_tree, AT_FDCWD, "dir/rel", AT_SYMLINK_NOFOLLOW | O_CLOEXEC));
  same("open_tree nofollow", t2, file);
  printf("cloexec: %s\n", (fcntl(t2, F_GETFD) & FD_CLOEXEC) ? "yes" : "no");
  int t3 = (int)SHOW(syscall(SYS_open_tree, file, "", AT_EMPTY_PATH));
  same("open_tree empty path", t3, file);
  SHOW(syscall(SYS_open_tree, AT_FDCWD, "", 0));
  SHOW(syscall(SYS_open_tree, AT_FDCWD, (char*)8, 0));
  SHOW(syscall(SYS_open_tree, AT_FDCWD, "dir/none", 0));
  SHOW(syscall(SYS_open_tree, 1030, "x", 0));

  // File handles.
  struct handle fh;
  int mount_id = 0;
  fh.handle_bytes = sizeof fh.f_handle;
  long r = SHOW(name_to_handle_at(AT_FDCWD, "dir/rel", (void*)&fh, &mount_id, AT_SYMLINK_FOLLOW));
  printf("handle: %u bytes, type %d\n", fh.handle_bytes, fh.handle_type);
  struct handle lfh = {.handle_bytes = sizeof lfh.f_handle};
  SHOW(name_to_handle_at(AT_FDCWD, "dir/rel", (void*)&lfh, &mount_id, 0));
  printf("link handle: %u bytes, type %d, same as file's: %s\n", lfh.handle_bytes,
         lfh.handle_type, memcmp(&lfh, &fh, 8 + fh.handle_bytes) == 0 ? "yes" : "no");
  struct handle small = {.handle_bytes = 0};
  SHOW(name_to_handle_at(AT_FDCWD, "dir/rel", (void*)&small, &mount_id, AT_SYMLINK_FOLLOW));
  printf("needed %u bytes\n", small.handle_bytes);
  struct handle huge = {.handle_bytes = 129};
  SHOW(name_to_handle_at(AT_FDCWD, "dir/rel", (void*)&huge, &mount_id, AT_SYMLINK_FOLLOW));
  SHOW(name_to_handle_at(AT_FDCWD, "dir/rel", (void*)8, &mount_id, AT_SYMLINK_FOLLOW));
  SHOW(name_to_handle_at(AT_FDCWD, "dir/rel", (void*)&fh, (int*)8, AT_SYMLINK_FOLLOW));
  SHOW(name_to_handle_at(AT_FDCWD, (char*)8, (void*)&fh, &mount_id, 0));
  SHOW(name_to_handle_at(AT_FDCWD, (char*)8, (void*)&fh, &mount_id, 0x4000));
  SHOW(name_to_handle_at(AT_FDCWD, "dir/none", (void*)&fh, &mount_id, 0));
  SHOW(name_to_handle_at(file, "", (void*)&fh, &mount_id, AT_EMPTY_PATH));
  SHOW(name_to_handle_at(AT_FDCWD, "/proc/self/status", (void*)&fh, &mount_id, 0));
  fh.handle_bytes = sizeof fh.f_handle;
  name_to_handle_at(AT_FDCWD, "dir/sub/file", (void*)&fh, &mount_id, 0);
  int by = (int)SHOW(open_by_handle_at(dir, (void*)&fh, O_RDONLY));
  memset(buf, 0, sizeof buf);
  read(by, buf, sizeof buf - 1);
  printf("by handle: '%s'\n", buf);
  same("by handle", by, file);
  SHOW(open_by_handle_at(999, (void*)&fh, O_RDONLY));
  SHOW(open_by_handle_at(dir, (void*)8, O_RDONLY));
  struct handle zero = {0};
  SHOW(open_by_handle_at(dir, (void*)&zero, O_RDONLY));
  // A handle whose bytes run into unmapped memory.
  char* m = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  munmap(m + 4096, 4096);
  memcpy(m + 4096 - 8, &fh, 8);
  SHOW(open_by_handle_at(dir, (void*)(m + 4096 - 8), O_RDONLY));
  return 0;
}
