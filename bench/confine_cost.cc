// The cost of elfuse's self-confinement filter (src/base/self_confine.h) on
// the host side, natively: the same calls timed in one process before and
// after it installs the filter, and the installation itself. elfuse cannot
// run here (no KVM backend), so this measures what the filter adds to each
// host call elfuse makes, not elfuse; docs/performance.md has the ratios.
//
// usage: bench_confine_cost [ITERATIONS]   (default 200000)
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

// Median over 7 rounds of the mean ns per call.
double per_call(int n, const std::function<void()>& f) {
  std::vector<double> v;
  for (int round = 0; round < 7; round++) {
    int64_t t0 = now_ns();
    for (int i = 0; i < n; i++) f();
    v.push_back(static_cast<double>(now_ns() - t0) / n);
  }
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

struct Case {
  const char* name;
  int scale;  // fewer iterations for the expensive ones
  std::function<void()> f;
};

void* nothing(void*) {
  return nullptr;
}

}  // namespace

int main(int argc, char** argv) {
  int n = argc > 1 ? atoi(argv[1]) : 200000;
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
      {"fork + wait", 400,
       [] {
         pid_t p = fork();
         if (p == 0) _exit(0);
         waitpid(p, nullptr, 0);
       }},
  };
  std::vector<double> before;
  for (auto& c : cases) before.push_back(per_call(std::max(1, n / c.scale), c.f));
  // The unit of start-up: a native process start (fork, execve /bin/true,
  // wait), which the filter would not allow (elfuse never execs).
  double spawn_ns = per_call(std::max(1, n / 2000), [] {
    pid_t p = fork();
    if (p == 0) {
      char* argv[] = {const_cast<char*>("/bin/true"), nullptr};
      execv("/bin/true", argv);
      _exit(127);
    }
    waitpid(p, nullptr, 0);
  });
  // Building the program, warm, in this process.
  double build_ns = per_call(std::max(1, n / 200), [] {
    std::vector<sock_filter> prog = elfuse::confine::build_filter();
    asm volatile("" ::"r"(prog.data()) : "memory");
  });

  // Installing the filter, in forked children (a filter cannot be
  // removed), median of 31.
  std::vector<double> build_us, install_us;
  size_t insns = elfuse::confine::build_filter().size();
  for (int i = 0; i < 31; i++) {
    int pipefd[2];
    if (pipe(pipefd) != 0) return 1;
    pid_t p = fork();
    if (p == 0) {
      int64_t t0 = now_ns();
      std::vector<sock_filter> prog = elfuse::confine::build_filter();
      int64_t t1 = now_ns();
      int e = elfuse::confine::install(prog);
      int64_t t2 = now_ns();
      int64_t dt[2] = {t1 - t0, t2 - t1};
      if (e != 0) dt[1] = -1;
      if (write(pipefd[1], dt, sizeof dt) != sizeof dt) _exit(1);
      _exit(0);
    }
    int64_t dt[2] = {-1, -1};
    if (read(pipefd[0], dt, sizeof dt) != sizeof dt) dt[1] = -1;
    waitpid(p, nullptr, 0);
    close(pipefd[0]);
    close(pipefd[1]);
    if (dt[1] < 0) {
      fprintf(stderr, "bench_confine_cost: cannot install the filter\n");
      return 1;
    }
    build_us.push_back(dt[0] / 1000.0);
    install_us.push_back(dt[1] / 1000.0);
  }
  std::sort(build_us.begin(), build_us.end());
  std::sort(install_us.begin(), install_us.end());

  std::vector<sock_filter> prog = elfuse::confine::build_filter();
  if (elfuse::confine::install(prog) != 0) {
    fprintf(stderr, "bench_confine_cost: cannot install the filter\n");
    return 1;
  }
  printf("%-52s %12s %12s %8s\n", "host call", "unfiltered", "filtered", "ratio");
  for (size_t i = 0; i < cases.size(); i++) {
    double after = per_call(std::max(1, n / cases[i].scale), cases[i].f);
    printf("%-52s %9.1f ns %9.1f ns %8.3f\n", cases[i].name, before[i], after, after / before[i]);
  }
  double install_ns = install_us[install_us.size() / 2] * 1000;
  printf("filter: %zu instructions\n", insns);
  printf(
      "build (warm): %.1f us; install (no_new_privs, seccomp TSYNC, in a fresh child): %.1f us\n",
      build_ns / 1000, install_ns / 1000);
  printf(
      "process start (fork + execve /bin/true + wait): %.1f us; (build + install) / start: %.3f\n",
      spawn_ns / 1000, (build_ns + install_ns) / spawn_ns);
  return 0;
}
