// What the fuzz runs of tests/security share: a child run with a deadline
// whose standard error (which is also elfuse's own under elfuse) the parent
// reads, and the test for elfuse's diagnostics about itself in it.
#ifndef ELFUSE_TESTS_SECURITY_FUZZ_COMMON_H
#define ELFUSE_TESTS_SECURITY_FUZZ_COMMON_H

#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

// The seeded generator both runs draw from: xorshift64*, state in rng.
static uint64_t rng;
static uint64_t next(void) {
  rng ^= rng >> 12;
  rng ^= rng << 25;
  rng ^= rng >> 27;
  return rng * 0x2545F4914F6CDD1DULL;
}

// Lines that are elfuse's diagnostics about itself: an internal error, a
// failed check, an uncaught exception, a sanitizer report. A guest's death
// and an unknown syscall number are the guest's business (compare.sh
// filters those two as well).
static int elfuse_diagnostic(const char* line) {
  if (strncmp(line, "elfuse: ", 8) != 0 && strstr(line, "Sanitizer") == NULL &&
      strstr(line, "runtime error") == NULL && strstr(line, "terminate called") == NULL)
    return 0;
  if (strstr(line, "guest killed by SIG")) return 0;
  if (strstr(line, "syscall") && strstr(line, "ENOSYS")) return 0;
  return 1;
}

// Forks; the child gets a pipe as standard error and runs fn(arg, seed),
// which must not return. The parent waits at most deadline_ms, then kills
// it, and prints (at most a few) elfuse diagnostics the child's stderr
// carried, as "LABEL: LEAK: line". Returns how many there were.
static int run_bounded(void (*fn)(const char*, uint64_t), const char* arg, uint64_t seed,
                       int deadline_ms, int label) {
  int p[2];
  if (pipe(p) != 0) return 1;
  fflush(stdout);
  pid_t pid = fork();
  if (pid < 0) return 1;
  if (pid == 0) {
    close(p[0]);
    dup2(p[1], 2);
    close(p[1]);
    fn(arg, seed);
    _exit(0);
  }
  close(p[1]);
  fcntl(p[0], F_SETFL, O_NONBLOCK);
  char buf[8192];
  size_t have = 0;
  int status = 0, ended = 0;
  for (int ms = 0; ms < deadline_ms && !ended; ms += 10) {
    ssize_t n = read(p[0], buf + have, sizeof buf - 1 - have);
    if (n > 0) have += (size_t)n;
    if (have >= sizeof buf - 1) have = 0;  // only whole lines near the end matter
    if (waitpid(pid, &status, WNOHANG) == pid) {
      ended = 1;
    } else {
      struct timespec t = {0, 10 * 1000 * 1000};
      nanosleep(&t, NULL);
    }
  }
  if (!ended) {
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
  }
  ssize_t n;
  while (have < sizeof buf - 1 && (n = read(p[0], buf + have, sizeof buf - 1 - have)) > 0)
    have += (size_t)n;
  buf[have] = 0;
  close(p[0]);
  int said = 0;
  char* save = NULL;
  for (char* line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
    if (!elfuse_diagnostic(line)) continue;
    if (said++ < 3) printf("%d: LEAK: %.200s\n", label, line);
  }
  return said;
}

#endif
