// File system calls on files in a fresh, empty directory of its own, with the
// errors Linux gives for bad paths, bad descriptors and bad buffers.
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <unistd.h>

#include "common.h"
#include "own_dir.h"

static void print_stat(const char* what, const struct stat* st) {
  // Directory sizes depend on the file system: only regular files show theirs.
  printf("%s: size=%lld mode=%o nlink=%lu type=%s\n", what,
         S_ISDIR(st->st_mode) ? -1LL : (long long)st->st_size, (unsigned)(st->st_mode & 07777),
         (unsigned long)st->st_nlink,
         S_ISREG(st->st_mode)   ? "reg"
         : S_ISDIR(st->st_mode) ? "dir"
         : S_ISLNK(st->st_mode) ? "lnk"
                                : "other");
}

struct linux_dirent64 {
  uint64_t d_ino;
  int64_t d_off;
  unsigned short d_reclen;
  unsigned char d_type;
  char d_name[];
};

static int cmp(const void* a, const void* b) {
  return strcmp(*(char* const*)a, *(char* const*)b);
}

// Lists a directory with getdents64 and prints the names sorted, with d_type.
static void list_dir(const char* path) {
  int fd = open(path, O_RDONLY | O_DIRECTORY);
  if (fd < 0) {
    printf("open %s: %s\n", path, errname(errno));
    return;
  }
  char buf[256];  // small on purpose: several calls are needed
  char* names[64];
  int n = 0;
  for (;;) {
    long r = syscall(SYS_getdents64, fd, buf, sizeof buf);
    if (r < 0) {
      printf("getdents64: %s\n", errname(errno));
      break;
    }
    if (r == 0) break;
    for (long off = 0; off < r;) {
      struct linux_dirent64* d = (struct linux_dirent64*)(buf + off);
      char* s = malloc(strlen(d->d_name) + 4);
      sprintf(s, "%s:%d", d->d_name, d->d_type);
      if (n < 64) names[n++] = s;
      off += d->d_reclen;
    }
  }
  qsort(names, n, sizeof names[0], cmp);
  printf("%s has %d entries:", path, n);
  for (int i = 0; i < n; i++) {
    printf(" %s", names[i]);
    free(names[i]);
  }
  printf("\n");
  // A buffer too small for one entry is EINVAL; a bad fd is EBADF.
  lseek(fd, 0, SEEK_SET);
  SHOW(syscall(SYS_getdents64, fd, buf, 8));
  SHOW(syscall(SYS_getdents64, 999, buf, sizeof buf));
  SHOW(syscall(SYS_getdents64, fd, (void*)1, sizeof buf));
  close(fd);
}

int main(void) {
  own_dir_enter();
  umask(022);
  struct stat st;
  char buf[256];

  // open, write, pwrite, pread, lseek
  int fd = SHOW(open("a.txt", O_CREAT | O_RDWR | O_TRUNC, 0644));
  SHOW(write(fd, "hello world\n", 12));
  SHOW(pwrite(fd, "WORLD", 5, 6));
  memset(buf, 0, sizeof buf);
  SHOW(pread(fd, buf, sizeof buf - 1, 0));
  printf("pread got [%s]\n", buf);
  SHOW(lseek(fd, 0, SEEK_CUR));
  SHOW(lseek(fd, 0, SEEK_END));
  SHOW(lseek(fd, -5, SEEK_END));
  memset(buf, 0, sizeof buf);
  SHOW(read(fd, buf, 3));
  printf("read got [%s]\n", buf);
  SHOW(lseek(fd, 100, SEEK_SET));
  SHOW(read(fd, buf, 10));
  SHOW(lseek(fd, -1, SEEK_SET));
  SHOW(lseek(fd, 0, 42));
  SHOW(pread(fd, buf, 1, -1));

  // fstat, stat, fsync, ftruncate, truncate
  OK(fstat(fd, &st));
  print_stat("fstat a.txt", &st);
  OK(fsync(fd));
  OK(fdatasync(fd));
  OK(ftruncate(fd, 5));
  OK(stat("a.txt", &st));
  print_stat("stat a.txt after ftruncate 5", &st);
  OK(truncate("a.txt", 10000));
  OK(stat("a.txt", &st));
  print_stat("stat a.txt after truncate 10000", &st);
  SHOW(ftruncate(fd, -1));
  SHOW(truncate("missing", 1));
  memset(buf, 'x', sizeof buf);
  SHOW(pread(fd, buf, 8, 3));
  printf("bytes 3..10 after extension: %d %d %d %d %d %d %d %d\n", buf[0], buf[1], buf[2], buf[3],
         buf[4], buf[5], buf[6], buf[7]);
  OK(close(fd));

  // openat relative to a directory fd
  OK(mkdir("d", 0755));
  int dfd = SHOW(open("d", O_RDONLY | O_DIRECTORY));
  int f2 = SHOW(openat(dfd, "inner", O_CREAT | O_WRONLY, 0600));
  SHOW(write(f2, "inner\n", 6));
  OK(close(f2));
  OK(fstatat(dfd, "inner", &st, 0));
  print_stat("fstatat d/inner", &st);
  OK(fstatat(AT_FDCWD, "d/inner", &st, 0));
  print_stat("fstatat AT_FDCWD d/inner", &st);
  OK(fstatat(dfd, "", &st, AT_EMPTY_PATH));
  print_stat("fstatat d AT_EMPTY_PATH", &st);
  SHOW(openat(999, "inner", O_RDONLY));
  SHOW(openat(AT_FDCWD, "d/inner", O_RDONLY | O_DIRECTORY));

  // symlink, readlink, lstat, link, rename
  OK(symlink("a.txt", "sym"));
  OK(symlink("nowhere", "dangling"));
  memset(buf, 0, sizeof buf);
  SHOW(readlink("sym", buf, sizeof buf));
  printf("readlink sym = [%s]\n", buf);
  SHOW(readlink("sym", buf, 2));
  SHOW(readlinkat(AT_FDCWD, "dangling", buf, sizeof buf));
  SHOW(readlink("a.txt", buf, sizeof buf));
  SHOW(readlink("missing", buf, sizeof buf));
  OK(lstat("sym", &st));
  print_stat("lstat sym", &st);
  OK(stat("sym", &st));
  print_stat("stat sym", &st);
  OK(fstatat(AT_FDCWD, "sym", &st, AT_SYMLINK_NOFOLLOW));
  print_stat("fstatat sym NOFOLLOW", &st);
  SHOW(stat("dangling", &st));
  SHOW(open("sym", O_RDONLY | O_NOFOLLOW));
  OK(link("a.txt", "hard"));
  OK(stat("a.txt", &st));
  print_stat("stat a.txt after link", &st);
  SHOW(link("a.txt", "hard"));
  OK(rename("hard", "d/moved"));
  SHOW(rename("hard", "d/moved"));
  OK(renameat(dfd, "moved", AT_FDCWD, "back"));
  SHOW(rename("d", "a.txt"));
  SHOW(rename("a.txt", "d"));

  // chmod, access, faccessat, utimensat
  OK(chmod("a.txt", 0600));
  OK(stat("a.txt", &st));
  print_stat("stat a.txt after chmod 600", &st);
  OK(fchmodat(AT_FDCWD, "a.txt", 0640, 0));
  OK(stat("a.txt", &st));
  print_stat("stat a.txt after fchmodat 640", &st);
  SHOW(access("a.txt", F_OK));
  SHOW(access("a.txt", R_OK | W_OK));
  SHOW(access("missing", F_OK));
  SHOW(access("a.txt/x", F_OK));
  SHOW(faccessat(dfd, "inner", R_OK, 0));
  SHOW(faccessat(dfd, "nothing", R_OK, 0));
  SHOW(access("a.txt", 0x100));
  struct timespec ts[2] = {{1000000000, 123456789}, {1500000000, 987654321}};
  OK(utimensat(AT_FDCWD, "a.txt", ts, 0));
  OK(stat("a.txt", &st));
  printf("atime = %lld.%09ld mtime = %lld.%09ld\n", (long long)st.st_atim.tv_sec,
         st.st_atim.tv_nsec, (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
  struct timespec omit[2] = {{0, UTIME_OMIT}, {42, 0}};
  OK(utimensat(AT_FDCWD, "a.txt", omit, 0));
  OK(stat("a.txt", &st));
  printf("atime = %lld.%09ld mtime = %lld.%09ld\n", (long long)st.st_atim.tv_sec,
         st.st_atim.tv_nsec, (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
  struct timespec bad[2] = {{0, 1000000000}, {0, 0}};
  SHOW(utimensat(AT_FDCWD, "a.txt", bad, 0));
  SHOW(utimensat(AT_FDCWD, "missing", ts, 0));

#if defined(__GLIBC__) && defined(STATX_BASIC_STATS)
  struct statx sx;
  OK(statx(AT_FDCWD, "a.txt", 0, STATX_BASIC_STATS, &sx));
  printf("statx: basic=%d size=%llu mode=%o nlink=%u mtime=%lld.%09u\n",
         (sx.stx_mask & STATX_BASIC_STATS) == STATX_BASIC_STATS, (unsigned long long)sx.stx_size,
         (unsigned)(sx.stx_mode & 07777), sx.stx_nlink, (long long)sx.stx_mtime.tv_sec,
         sx.stx_mtime.tv_nsec);
  SHOW(statx(AT_FDCWD, "missing", 0, STATX_BASIC_STATS, &sx));
  SHOW(statx(AT_FDCWD, "a.txt", 0, STATX__RESERVED, &sx));
#else
  printf("statx: not in this libc\n");
#endif

  // directories
  OK(mkdir("d/sub", 0700));
  OK(mkdir("d/sub/deeper", 0700));
  fd = SHOW(open("d/file1", O_CREAT | O_WRONLY, 0644));
  OK(close(fd));
  OK(symlink("file1", "d/link1"));
  list_dir("d");
  list_dir("d/sub/deeper");
  SHOW(mkdir("d", 0755));
  SHOW(mkdir("missing/x", 0755));
  SHOW(rmdir("d"));
  SHOW(rmdir("a.txt"));
  SHOW(rmdir("missing"));
  SHOW(rmdir("d/sub/deeper/."));
  OK(rmdir("d/sub/deeper"));
  SHOW(unlink("d/sub"));
  SHOW(unlink("missing"));
  OK(unlink("d/link1"));
  OK(unlinkat(dfd, "sub", AT_REMOVEDIR));
  OK(unlinkat(dfd, "file1", 0));
  OK(unlinkat(dfd, "inner", 0));
  list_dir("d");
  OK(close(dfd));
  OK(rmdir("d"));

  // error cases
  SHOW(open("missing", O_RDONLY));
  SHOW(open("a.txt", O_CREAT | O_EXCL | O_WRONLY, 0644));
  SHOW(open("a.txt/x", O_RDONLY));
  OK(mkdir("dir", 0755));
  SHOW(open("dir", O_WRONLY));
  SHOW(open("dir", O_RDWR));
  SHOW(open("a.txt", O_RDONLY | O_DIRECTORY));
  SHOW(read(-1, buf, 1));
  SHOW(read(999, buf, 1));
  SHOW(write(999, buf, 1));
  SHOW(close(999));
  SHOW(fstat(999, &st));
  SHOW(lseek(999, 0, SEEK_SET));
  fd = open("a.txt", O_RDONLY);
  SHOW(write(fd, "x", 1));
  SHOW(syscall(SYS_read, fd, (void*)1, 10));
  SHOW(syscall(SYS_read, fd, buf, 0));
  SHOW(syscall(SYS_pread64, fd, (void*)1, 10, 0));
  SHOW(syscall(SYS_fstat, fd, (void*)1));
  SHOW(syscall(SYS_openat, AT_FDCWD, (void*)1, O_RDONLY));
  SHOW(syscall(SYS_newfstatat, AT_FDCWD, "a.txt", (void*)1, 0));
  SHOW(syscall(SYS_newfstatat, AT_FDCWD, (void*)1, &st, 0));
  SHOW(syscall(SYS_readlinkat, AT_FDCWD, "sym", (void*)1, 10));
  SHOW(syscall(SYS_mkdirat, AT_FDCWD, (void*)1, 0755));
  SHOW(syscall(SYS_write, 1, (void*)1, 10));
  SHOW(syscall(SYS_getcwd, (void*)1, 100));
  OK(close(fd));
  fd = open("out.txt", O_CREAT | O_WRONLY, 0644);
  SHOW(syscall(SYS_write, fd, (void*)1, 10));
  SHOW(read(fd, buf, 1));
  OK(close(fd));
  static char longname[5000];
  memset(longname, 'n', sizeof longname - 1);
  SHOW(open(longname, O_RDONLY));
  longname[300] = 0;
  SHOW(open(longname, O_RDONLY));
  SHOW(mkdir(longname, 0755));
  SHOW(stat(longname, &st));
  SHOW(open("", O_RDONLY));
  SHOW(stat("", &st));

  // symlink loops
  OK(symlink("loop2", "loop1"));
  OK(symlink("loop1", "loop2"));
  SHOW(open("loop1", O_RDONLY));
  SHOW(stat("loop1", &st));

  // O_APPEND and O_TRUNC
  fd = SHOW(open("app.txt", O_CREAT | O_WRONLY | O_APPEND, 0644));
  SHOW(write(fd, "abc", 3));
  SHOW(lseek(fd, 0, SEEK_SET));
  SHOW(write(fd, "def", 3));
  SHOW(lseek(fd, 0, SEEK_CUR));
  OK(close(fd));
  fd = open("app.txt", O_RDONLY);
  memset(buf, 0, sizeof buf);
  SHOW(read(fd, buf, sizeof buf));
  printf("app.txt = [%s]\n", buf);
  OK(close(fd));
  fd = SHOW(open("app.txt", O_WRONLY | O_TRUNC));
  OK(fstat(fd, &st));
  print_stat("app.txt after O_TRUNC", &st);
  OK(close(fd));

  list_dir(".");
  return 0;
}
