// forkloop PIDFILE: a guest that will not end by itself and hides its
// processes: every process ignores SIGTERM and SIGHUP; the first forks
// children that fork again, one of them leaves the process group and the
// session (setsid after a double fork, as a daemon does), and all of them
// spin or sleep forever; each appends its pid to PIDFILE. --timeout must
// still end every one of them.
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char* pidfile;

static void note(void) {
  char line[32];
  int n = snprintf(line, sizeof line, "%d\n", getpid());
  int fd = open(pidfile, O_WRONLY | O_APPEND | O_CREAT, 0600);
  write(fd, line, n);
  close(fd);
}

static void forever(int spin) {
  note();
  volatile unsigned long n = 0;
  for (;;) {
    if (spin) n++;
    else pause();
  }
}

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  pidfile = argv[1];
  signal(SIGTERM, SIG_IGN);
  signal(SIGHUP, SIG_IGN);
  for (int i = 0; i < 2; i++) {
    if (fork() == 0) {
      if (fork() == 0) forever(i);  // a grandchild
      forever(!i);
    }
  }
  // The daemon: double fork, setsid, its parent gone.
  if (fork() == 0) {
    if (fork() == 0) {
      setsid();
      forever(0);
    }
    _exit(0);
  }
  write(1, "started\n", 8);
  forever(0);
}
