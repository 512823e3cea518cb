// bigwrite: writes past RLIMIT_FSIZE (the sandbox's --max-file-size) in a
// directory of its own: with SIGXFSZ ignored, a write that crosses the limit
// is cut short there and the next one fails with EFBIG; a truncate past it
// fails too; with the default action, the next write kills the process by
// SIGXFSZ.
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(void) {
  char dir[] = "/tmp/bigwrite.XXXXXX";
  if (!mkdtemp(dir)) return 1;
  char path[64];
  snprintf(path, sizeof path, "%s/f", dir);
  static char buf[1500];
  memset(buf, 'x', sizeof buf);
  signal(SIGXFSZ, SIG_IGN);
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  for (int i = 0; i < 3; i++) {
    ssize_t n = write(fd, buf, sizeof buf);
    printf("write %zd %s\n", n, n < 0 ? strerror(errno) : "");
  }
  int r = ftruncate(fd, 1 << 20);
  printf("ftruncate %d %s\n", r, r < 0 ? strerror(errno) : "");
  fflush(stdout);
  unlink(path);
  rmdir(dir);
  signal(SIGXFSZ, SIG_DFL);
  write(fd, buf, 1);  // beyond the limit: killed by SIGXFSZ
  printf("not reached\n");
  return 0;
}
