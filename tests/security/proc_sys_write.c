// Finding 3 of docs/security.md: the host-wide knobs under /proc/sys are
// the kernel's, written as the matching syscalls act. Invariant that holds
// natively: writing /proc/sys/kernel/hostname and sethostname(2) agree (both
// work, or both are refused); the program writes back the name it read, so
// nothing changes natively. LEAK when the file can be written while the
// syscall is refused (the guest would change the host's hostname).
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common.h"

int main(void) {
  char name[256] = {0};
  if (gethostname(name, sizeof name - 1) != 0) return 2;
  int sys_ok = sethostname(name, strlen(name)) == 0;
  int fd = open("/proc/sys/kernel/hostname", O_WRONLY);
  int file_ok = 0;
  if (fd >= 0) {
    file_ok = write(fd, name, strlen(name)) == (ssize_t)strlen(name);
    close(fd);
  }
  if (sys_ok == file_ok)
    printf("hostname: the file and sethostname agree\n");
  else
    printf("hostname: LEAK (sethostname %s, the file %s)\n", sys_ok ? "works" : "refused",
           file_ok ? "written" : "refused");
  // Another knob: what the file holds is what it held (written back as read).
  fd = open("/proc/sys/kernel/domainname", O_RDONLY);
  char dom[256] = {0};
  ssize_t n = fd >= 0 ? read(fd, dom, sizeof dom - 1) : -1;
  if (fd >= 0) close(fd);
  if (n > 0) {
    int set_ok = setdomainname(dom, (size_t)n - (dom[n - 1] == '\n')) == 0;
    fd = open("/proc/sys/kernel/domainname", O_WRONLY);
    int wrote = fd >= 0 && write(fd, dom, (size_t)n) == n;
    if (fd >= 0) close(fd);
    printf("domainname: %s\n",
           set_ok == wrote ? "the file and setdomainname agree" : "LEAK (they disagree)");
  }
  return 0;
}
