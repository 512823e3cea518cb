// docs/security.md, "/proc": the host-wide part of /proc is an allowlist,
// and the host's kernel log and console are the host's. Invariants that
// hold natively (checked without changing anything on the host):
//  - /proc/kmsg opens exactly when syslog's read action is permitted
//    (probed with a length of 0: the permission check comes first, then 0);
//  - the console level can be set exactly when the read action is
//    permitted (probed with level 0: EINVAL after the permission check);
//  - /proc/kallsyms shows kernel addresses only to a process the read
//    action is permitted to (LEAK otherwise);
//  - the machine's description (cpuinfo, meminfo, uptime, version, a
//    /proc/sys file) reads.
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/klog.h>
#include <unistd.h>

#include "common.h"

static int permitted(int action, int len) {
  char buf[1];
  int r = klogctl(action, buf, len);
  return r >= 0 || errno != EPERM;
}

int main(void) {
  int read_ok = permitted(2, 0);   // SYSLOG_ACTION_READ, len 0
  int level_ok = permitted(8, 0);  // SYSLOG_ACTION_CONSOLE_LEVEL 0: EINVAL
  int fd = open("/proc/kmsg", O_RDONLY | O_NONBLOCK);
  int kmsg_ok = fd >= 0;
  if (fd >= 0) close(fd);
  printf("kmsg and the read action: %s\n", kmsg_ok == read_ok ? "agree"
                                           : kmsg_ok          ? "LEAK (kmsg opens)"
                                                              : "disagree");
  printf("console level and the read action: %s\n", level_ok == read_ok ? "agree"
                                                    : level_ok          ? "LEAK (console level)"
                                                                        : "disagree");
  FILE* f = fopen("/proc/kallsyms", "r");
  int addresses = 0;
  if (f) {
    char line[256];
    unsigned long a;
    for (int i = 0; i < 100 && fgets(line, sizeof line, f); i++)
      if (sscanf(line, "%lx", &a) == 1 && a != 0) addresses = 1;
    fclose(f);
  }
  printf("kallsyms addresses: %s\n", addresses && !read_ok ? "LEAK" : "only with the log");
  const char* machine[] = {"/proc/cpuinfo",    "/proc/meminfo",           "/proc/uptime",
                           "/proc/version",    "/proc/sys/kernel/ostype", "/proc/loadavg",
                           "/proc/filesystems"};
  for (unsigned i = 0; i < sizeof machine / sizeof machine[0]; i++) {
    fd = open(machine[i], O_RDONLY);
    char c;
    ssize_t n = fd >= 0 ? read(fd, &c, 1) : -1;
    printf("%s: %s\n", machine[i], n == 1 ? "reads" : errname(errno));
    if (fd >= 0) close(fd);
  }
  return 0;
}
