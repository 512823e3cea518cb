// File descriptors: dup/dup2/dup3, fcntl, pipes, bad descriptors, and that the
// lowest free descriptor is always the one handed out.
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common.h"

int main(void) {
  // A known limit, whatever the caller's: dup2 beyond it is EBADF.
  struct rlimit rl;
  getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = 1024;
  OK(setrlimit(RLIMIT_NOFILE, &rl));

  // Close everything the caller may have leaked to us, then see 3 come back.
  int closed = 0;
  for (int fd = 3; fd < 1024; fd++)
    if (close(fd) == 0) closed++;
  (void)closed;
  SHOW(open("/dev/null", O_RDWR));    // 3
  SHOW(open("/dev/null", O_RDONLY));  // 4
  SHOW(open("/dev/null", O_WRONLY));  // 5
  OK(close(4));
  SHOW(open("/dev/null", O_RDONLY));  // 4 again: lowest free
  OK(close(3));
  OK(close(5));
  SHOW(dup(4));  // 3

  // dup, dup2, dup3
  SHOW(dup(1));
  SHOW(dup2(1, 10));
  SHOW(dup2(10, 10));
  SHOW(dup2(999, 10));
  SHOW(dup3(1, 11, O_CLOEXEC));
  SHOW(fcntl(11, F_GETFD));
  SHOW(dup3(1, 11, 0));
  SHOW(fcntl(11, F_GETFD));
  SHOW(dup3(11, 11, 0));
  SHOW(syscall(SYS_dup3, 1, 12, 0x4000));  // raw: musl ignores unknown flags
  SHOW(dup2(1, 1023));
  SHOW(dup2(1, 1024));
  SHOW(dup2(1, 1000000));
  SHOW(dup2(1, -1));
  SHOW(close(-1));
  SHOW(close(500));
  SHOW(close(1000000));

  // fcntl
  SHOW(fcntl(4, F_DUPFD, 20));
  SHOW(fcntl(4, F_DUPFD, 20));
  SHOW(fcntl(4, F_DUPFD_CLOEXEC, 30));
  SHOW(fcntl(30, F_GETFD));
  SHOW(fcntl(20, F_GETFD));
  SHOW(fcntl(20, F_SETFD, FD_CLOEXEC));
  SHOW(fcntl(20, F_GETFD));
  SHOW(fcntl(20, F_SETFD, 0));
  SHOW(fcntl(20, F_GETFD));
  SHOW(fcntl(4, F_DUPFD, -1));
  SHOW(fcntl(4, F_DUPFD, 1024));
  SHOW(fcntl(999, F_GETFD));
  SHOW(fcntl(4, 12345));
  int rw = open("/dev/null", O_RDWR);
  printf("F_GETFL = %#x\n", fcntl(rw, F_GETFL));
  SHOW(fcntl(rw, F_SETFL, O_NONBLOCK | O_APPEND));
  printf("F_GETFL after F_SETFL O_NONBLOCK|O_APPEND = %#x\n", fcntl(rw, F_GETFL));
  SHOW(fcntl(rw, F_SETFL, 0));
  printf("F_GETFL after F_SETFL 0 = %#x\n", fcntl(rw, F_GETFL));
  int wo = open("/dev/null", O_WRONLY | O_APPEND | O_CLOEXEC);
  printf("O_WRONLY|O_APPEND|O_CLOEXEC: F_GETFL = %#x F_GETFD = %d\n", fcntl(wo, F_GETFL),
         fcntl(wo, F_GETFD));
  // A dup shares the file description (flags, offset) but not FD_CLOEXEC.
  int d = dup(wo);
  printf("dup: F_GETFL = %#x F_GETFD = %d\n", fcntl(d, F_GETFL), fcntl(d, F_GETFD));

  // pipes
  int p[2];
  OK(pipe(p));
  printf("pipe fds = %d %d\n", p[0], p[1]);
  SHOW(write(p[1], "through the pipe", 16));
  char buf[64] = {0};
  SHOW(read(p[0], buf, sizeof buf));
  printf("read [%s]\n", buf);
  printf("pipe F_GETFL = %#x %#x\n", fcntl(p[0], F_GETFL), fcntl(p[1], F_GETFL));
  SHOW(read(p[1], buf, 1));
  SHOW(write(p[0], "x", 1));
  SHOW(lseek(p[0], 0, SEEK_SET));
  OK(close(p[1]));
  SHOW(read(p[0], buf, sizeof buf));  // EOF
  OK(close(p[0]));

  int q[2];
  OK(pipe2(q, O_CLOEXEC | O_NONBLOCK));
  printf("pipe2 fds = %d %d\n", q[0], q[1]);
  printf("pipe2 F_GETFD = %d %d F_GETFL = %#x %#x\n", fcntl(q[0], F_GETFD), fcntl(q[1], F_GETFD),
         fcntl(q[0], F_GETFL), fcntl(q[1], F_GETFL));
  SHOW(read(q[0], buf, sizeof buf));  // EAGAIN
  SHOW(fcntl(q[1], F_GETPIPE_SZ));
  // Fill the pipe without blocking.
  static char big[1 << 16];
  long total = 0, r;
  while ((r = write(q[1], big, sizeof big)) > 0) total += r;
  printf("filled the pipe with %ld bytes, then %s\n", total, errname(errno));
  SHOW(pipe2(q, 0x12345));
  SHOW(syscall(SYS_pipe, (void*)1));
  SHOW(syscall(SYS_pipe2, (void*)1, 0));

  // The lowest-fd rule after all this.
  for (int fd = 3; fd < 1024; fd++) close(fd);
  SHOW(open("/dev/null", O_RDONLY));
  SHOW(dup(0));
  return 0;
}
