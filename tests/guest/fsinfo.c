// ustat (the file system a device number names) and sysfs (the kernel's
// file-system type list): results that do not change between the two runs,
// and the errors.
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common.h"

int main(void) {
  struct stat st;
  stat("/", &st);
  char buf[32];
  SHOW(syscall(SYS_ustat, (unsigned)st.st_dev, buf));
  SHOW(syscall(SYS_ustat, (unsigned)st.st_dev, (void*)8));
  SHOW(syscall(SYS_ustat, 0xfffffu, buf));
  SHOW(syscall(SYS_ustat, 0xfffffu, (void*)8));

  long n = SHOW(syscall(SYS_sysfs, 3));
  char name[64];
  int found_proc = 0;
  for (long i = 0; i < n; i++) {
    memset(name, 0, sizeof name);
    if (syscall(SYS_sysfs, 2, i, name) != 0) printf("index %ld: %s\n", i, errname(errno));
    if (strcmp(name, "proc") == 0) found_proc = 1;
    long back = syscall(SYS_sysfs, 1, name);
    if (back != i) printf("%s maps back to %ld\n", name, back);
  }
  CHECK(found_proc);
  SHOW(syscall(SYS_sysfs, 2, n, name));
  SHOW(syscall(SYS_sysfs, 2, 0, (void*)8));
  SHOW(syscall(SYS_sysfs, 1, "no-such-fs-elfuse"));
  SHOW(syscall(SYS_sysfs, 1, (void*)8));
  SHOW(syscall(SYS_sysfs, 0));
  SHOW(syscall(SYS_sysfs, 4));
  return 0;
}
