// The cost of elfuse's self-confinement filter (src/base/self_confine.h) on
// the host side, natively: the same calls timed in fresh children with and
// without the filter (rounds alternate), and the installation itself
// against a native process start. elfuse cannot run on a host without KVM,
// so this measures what the filter adds to the host calls elfuse makes, not
// elfuse; docs/performance.md, "Self-confinement", has the ratios.
//
// usage: bench_confine_cost [ITERATIONS [ROUNDS]]   (default 100000 15)
#include <linux/kvm.h>
#include <pthread.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <vector>

#include "base/self_confine.h"

namespace {

int64_t now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1'000'000'000ll + ts.tv_nsec;
}

struct Case {
  const char* name;
  int scale;  // fewer iterations for the expensive ones
  std::function<void()> f;
};

void* nothing(void*) {
  return nullptr;
}

// One round of case c in a fresh child, filtered or not: mean ns per call.
double child_round(const Case& c, int n, bool filtered) {
  int pipefd[2];
  if (pipe(pipefd) != 0) return -1;
  pid_t p = fork();
  if (p == 0) {
    if (filtered) {
      std::vector<sock_filter> prog = elfuse::confine::build_filter();
      if (elfuse::confine::install(prog) != 0) _exit(1);
    }
    for (int i = 0; i < n / 10 + 1; i++) c.f();  // warm up
    int64_t t0 = now_ns();
    for (int i = 0; i < n; i++) c.f();
    double per = static_cast<double>(now_ns() - t0) / n;
    if (write(pipefd[1], &per, sizeof per) != sizeof per) _exit(1);
    _exit(0);
  }
  double per = -1;
  if (read(pipefd[0], &per, sizeof per) != sizeof per) per = -1;
  waitpid(p, nullptr, 0);
  close(pipefd[0]);
  close(pipefd[1]);
  return per;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  int n = argc > 1 ? atoi(argv[1]) : 100000;
  int rounds = argc > 2 ? atoi(argv[2]) : 15;
  std::vector<Case> cases = {
      {"getppid (no argument checks: action cache)", 1, [] { syscall(SYS_getppid); }},
      {"ioctl(-1, KVM_RUN) (KVM list, first entry)", 1, [] { syscall(SYS_ioctl, -1, KVM_RUN, 0); }},
      {"ioctl(-1, KVM_GET_TSC_KHZ) (KVM list, last entry)", 1,
       [] { syscall(SYS_ioctl, -1, KVM_GET_TSC_KHZ, 0); }},
      {"ioctl(-1, TCGETS) (not KVM's type)", 1, [] { syscall(SYS_ioctl, -1, TCGETS, 0); }},
      {"pthread_create + join (clone3 ENOSYS, then clone)", 100,
       [] {
         pthread_t t;
         pthread_create(&t, nullptr, nothing, nullptr);
         pthread_join(t, nullptr);
       }},
      {"fork + wait", 2000,
       [] {
         pid_t p = fork();
         if (p == 0) _exit(0);
         waitpid(p, nullptr, 0);
       }},
  };
  // Rounds alternate between an unfiltered and a filtered child, so that
  // the machine's load drifts alike over both.
  printf("%-52s %12s %12s %8s\n", "host call (median of rounds)", "unfiltered", "filtered",
         "ratio");
  for (const Case& c : cases) {
    std::vector<double> off, on;
    int m = std::max(1, n / c.scale);
    for (int r = 0; r < rounds; r++) {
      off.push_back(child_round(c, m, false));
      on.push_back(child_round(c, m, true));
    }
    double a = median(off), b = median(on);
    printf("%-52s %9.1f ns %9.1f ns %8.3f\n", c.name, a, b, b / a);
  }

  // Start-up: building the program (warm, here) and installing it (in
  // fresh children: a filter cannot be removed), against a native process
  // start (fork, execve /bin/true, wait), which the filter would not allow.
  std::vector<double> install_ns, spawn_ns, build_ns;
  for (int r = 0; r < 31; r++) {
    int pipefd[2];
    if (pipe(pipefd) != 0) return 1;
    pid_t p = fork();
    if (p == 0) {
      std::vector<sock_filter> prog = elfuse::confine::build_filter();
      int64_t t0 = now_ns();
      int e = elfuse::confine::install(prog);
      int64_t dt = e == 0 ? now_ns() - t0 : -1;
      if (write(pipefd[1], &dt, sizeof dt) != sizeof dt) _exit(1);
      _exit(0);
    }
    int64_t dt = -1;
    if (read(pipefd[0], &dt, sizeof dt) != sizeof dt) dt = -1;
    waitpid(p, nullptr, 0);
    close(pipefd[0]);
    close(pipefd[1]);
    if (dt < 0) {
      fprintf(stderr, "bench_confine_cost: cannot install the filter\n");
      return 1;
    }
    install_ns.push_back(static_cast<double>(dt));
    int64_t t0 = now_ns();
    pid_t q = fork();
    if (q == 0) {
      char* args[] = {const_cast<char*>("/bin/true"), nullptr};
      execv("/bin/true", args);
      _exit(127);
    }
    waitpid(q, nullptr, 0);
    spawn_ns.push_back(static_cast<double>(now_ns() - t0));
    t0 = now_ns();
    for (int i = 0; i < 100; i++) {
      std::vector<sock_filter> prog = elfuse::confine::build_filter();
      asm volatile("" ::"r"(prog.data()) : "memory");
    }
    build_ns.push_back(static_cast<double>(now_ns() - t0) / 100);
  }
  double inst = median(install_ns), spawn = median(spawn_ns), build = median(build_ns);
  printf("filter: %zu instructions; build %.1f us, install (no_new_privs, seccomp TSYNC) %.1f us\n",
         elfuse::confine::build_filter().size(), build / 1000, inst / 1000);
  printf("process start (fork + execve /bin/true + wait) %.1f us; (build + install) / start %.3f\n",
         spawn / 1000, (build + inst) / spawn);
  return 0;
}
