// probe [env] [fds]: what a sandboxed program starts with: its working
// directory and its limits; with "env" its environment (in order); with
// "fds" what it can do against RLIMIT_NOFILE (the hostile attempts: raise
// the hard limit, use a descriptor at the limit, open past it).
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

extern char** environ;

static void show_limit(const char* name, int r) {
  struct rlimit l;
  getrlimit(r, &l);
  printf("%s", name);
  if (l.rlim_cur == RLIM_INFINITY) printf(" unlimited");
  else printf(" %llu", (unsigned long long)l.rlim_cur);
  if (l.rlim_max == RLIM_INFINITY) printf(" unlimited\n");
  else printf(" %llu\n", (unsigned long long)l.rlim_max);
}

int main(int argc, char** argv) {
  int env = 0, fds = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "env")) env = 1;
    if (!strcmp(argv[i], "fds")) fds = 1;
  }
  if (env)
    for (char** e = environ; *e; e++) printf("env %s\n", *e);
  char cwd[4096];
  printf("cwd %s\n", getcwd(cwd, sizeof cwd) ? cwd : strerror(errno));
  show_limit("cpu", RLIMIT_CPU);
  show_limit("fsize", RLIMIT_FSIZE);
  show_limit("nofile", RLIMIT_NOFILE);
  struct rlimit l;
  getrlimit(RLIMIT_NOFILE, &l);
  if (fds) {
    struct rlimit more = {l.rlim_max + 1, l.rlim_max + 1};
    int r = setrlimit(RLIMIT_NOFILE, &more);
    printf("raise nofile hard: %d %s\n", r, r ? strerror(errno) : "");
    r = dup2(0, (int)l.rlim_cur);
    printf("dup2 at the limit: %d %s\n", r, r < 0 ? strerror(errno) : "");
    int last = -1, fd;
    while ((fd = open("/dev/null", O_RDONLY)) >= 0) last = fd;
    printf("opened up to fd %d, then %s\n", last, strerror(errno));
  }
  return 0;
}
