// File attributes: utime, utimes, futimesat (the times set are read back
// with stat), extended attributes (whether the file system in the test's
// directory supports them is the host's business: the errno is compared),
// and the argument errors of each. Also sync, and chroot's path errors.
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <utime.h>

#include "common.h"
#include "own_dir.h"

static void show_times(const char* path) {
  struct stat st;
  if (stat(path, &st) < 0) {
    printf("stat %s: %s\n", path, errname(errno));
    return;
  }
  printf("%s: atime %ld.%09ld mtime %ld.%09ld\n", path, (long)st.st_atim.tv_sec,
         st.st_atim.tv_nsec, (long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
}

int main(void) {
  own_dir_enter();
  int fd = open("f", O_CREAT | O_RDWR, 0644);
  OK(fd);
  OK(symlink("f", "link"));
  OK(mkdir("d", 0755));

  // utime: whole seconds.
  struct utimbuf ub = {1000000000, 1200000000};
  OK(syscall(SYS_utime, "f", &ub));
  show_times("f");
  SHOW(syscall(SYS_utime, "missing", &ub));   // ENOENT
  SHOW(syscall(SYS_utime, "f", (void*)8));    // EFAULT
  SHOW(syscall(SYS_utime, (void*)8, &ub));    // EFAULT
  OK(syscall(SYS_utime, "f", NULL));          // now
  // utimes: microseconds; tv_usec out of range is EINVAL before the lookup.
  struct timeval tv[2] = {{1300000000, 250000}, {1400000000, 999999}};
  OK(syscall(SYS_utimes, "link", tv));  // follows the link
  show_times("f");
  tv[1].tv_usec = 1000000;
  SHOW(syscall(SYS_utimes, "missing", tv));  // EINVAL first
  tv[1].tv_usec = -1;
  SHOW(syscall(SYS_utimes, "f", tv));        // EINVAL
  tv[1].tv_usec = 5;
  SHOW(syscall(SYS_utimes, "f", (void*)8));  // EFAULT
  SHOW(syscall(SYS_utimes, "missing", tv));  // ENOENT
  // futimesat: relative to a directory fd, or the fd itself with a NULL path.
  int dfd = open(".", O_RDONLY | O_DIRECTORY);
  tv[0].tv_sec = 1500000000;
  tv[1].tv_sec = 1600000000;
  OK(syscall(SYS_futimesat, dfd, "f", tv));
  show_times("f");
  OK(syscall(SYS_futimesat, fd, NULL, tv));
  SHOW(syscall(SYS_futimesat, 9999, "f", tv));        // EBADF
  SHOW(syscall(SYS_futimesat, AT_FDCWD, "/f-nope", tv));  // ENOENT
  SHOW(syscall(SYS_futimesat, fd, "f", tv));          // ENOTDIR
  OK(syscall(SYS_futimesat, 9999, "/", NULL));        // absolute: dirfd ignored

  // Extended attributes in the user namespace.
  errno = 0;
  long r = setxattr("f", "user.elfuse", "value", 5, 0);
  int xattr_ok = r == 0;
  printf("setxattr = %ld %s\n", r, errname(errno));
  char buf[256];
  if (xattr_ok) {
    SHOW(getxattr("f", "user.elfuse", buf, sizeof buf));
    printf("value [%.5s]\n", buf);
    SHOW(getxattr("f", "user.elfuse", NULL, 0));    // the size
    SHOW(getxattr("f", "user.elfuse", buf, 2));     // ERANGE
    SHOW(fgetxattr(fd, "user.elfuse", buf, sizeof buf));
    SHOW(setxattr("f", "user.elfuse", "x", 1, XATTR_CREATE));  // EEXIST
    SHOW(fsetxattr(fd, "user.second", "22", 2, 0));
    SHOW(listxattr("f", NULL, 0));
    long n = listxattr("f", buf, sizeof buf);
    int has1 = 0, has2 = 0;
    for (long i = 0; i < n; i += (long)strlen(buf + i) + 1) {
      if (!strcmp(buf + i, "user.elfuse")) has1 = 1;
      if (!strcmp(buf + i, "user.second")) has2 = 1;
    }
    printf("listxattr: %d %d\n", has1, has2);
    SHOW(flistxattr(fd, buf, sizeof buf) == n);
    SHOW(llistxattr("f", buf, sizeof buf) == n);
    SHOW(lgetxattr("f", "user.second", buf, sizeof buf));
    SHOW(syscall(SYS_getxattr, "f", "user.elfuse", (void*)8, 100));  // EFAULT
    SHOW(syscall(SYS_setxattr, "f", "user.x", (void*)8, 3, 0));      // EFAULT
    SHOW(syscall(SYS_listxattr, "f", (void*)8, 100));                // EFAULT
    SHOW(removexattr("f", "user.elfuse"));
    SHOW(fremovexattr(fd, "user.second"));
    SHOW(removexattr("f", "user.elfuse"));  // ENODATA
    SHOW(lremovexattr("f", "user.nothing"));
  }
  SHOW(getxattr("missing", "user.elfuse", buf, sizeof buf));  // ENOENT
  SHOW(getxattr("f", "", buf, sizeof buf));                   // ERANGE
  char longname[300];
  memset(longname, 'a', sizeof longname - 1);
  longname[sizeof longname - 1] = 0;
  memcpy(longname, "user.", 5);
  SHOW(getxattr("f", longname, buf, sizeof buf));             // ERANGE
  SHOW(syscall(SYS_getxattr, "f", (void*)8, buf, sizeof buf));  // EFAULT
  SHOW(syscall(SYS_getxattr, "missing", (void*)8, buf, sizeof buf));
  SHOW(syscall(SYS_getxattr, (void*)8, "user.x", buf, sizeof buf));  // EFAULT
  SHOW(fgetxattr(9999, "user.elfuse", buf, sizeof buf));      // EBADF
  SHOW(setxattr("f", "user.big", buf, 65537, 0));             // E2BIG
  SHOW(setxattr("f", "user.x", "v", 1, 99));                  // EINVAL
  SHOW(listxattr("missing", buf, sizeof buf));                // ENOENT

  sync();
  printf("sync done\n");
  // chroot: the path is looked up first; then (even for root, under elfuse)
  // the call is refused or does not happen here: only errors are compared.
  SHOW(chroot("missing"));       // ENOENT
  SHOW(chroot("f"));             // ENOTDIR
  SHOW(syscall(SYS_chroot, (void*)8));  // EFAULT
  close(dfd);
  close(fd);
  return 0;
}
