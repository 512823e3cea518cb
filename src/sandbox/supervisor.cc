#include "sandbox/supervisor.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <new>
#include <set>

#include "base/log.h"

namespace elfuse::sandbox {
namespace {

// Shared by every elfuse process of a supervised run (MAP_SHARED anonymous,
// mapped by the supervisor before its fork and inherited by every fork
// below it; elfuse's host memory, never the guest's).
struct Shared {
  std::atomic<uint64_t> processes;
};
Shared* g_shared = nullptr;

uint64_t now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

double seconds(const timeval& tv) {
  return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6;
}

// PPid of /proc/PID/stat: the field after the state, after the last ')'
// (the command name may hold any character). -1 when gone.
pid_t parent_of(pid_t pid) {
  char path[64], buf[512];
  snprintf(path, sizeof path, "/proc/%d/stat", pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return -1;
  buf[n] = 0;
  char* close_paren = strrchr(buf, ')');
  int ppid;
  char state;
  if (!close_paren || sscanf(close_paren + 1, " %c %d", &state, &ppid) != 2) return -1;
  return ppid;
}

// Every host process's (pid, ppid), from /proc.
std::vector<std::pair<pid_t, pid_t>> all_processes() {
  std::vector<std::pair<pid_t, pid_t>> out;
  DIR* d = opendir("/proc");
  if (!d) return out;
  while (dirent* e = readdir(d)) {
    char* end;
    long pid = strtol(e->d_name, &end, 10);
    if (*end || pid <= 0) continue;
    pid_t ppid = parent_of(static_cast<pid_t>(pid));
    if (ppid >= 0) out.emplace_back(static_cast<pid_t>(pid), ppid);
  }
  closedir(d);
  return out;
}

// SIGKILL to every process below this one. Each is signalled through a
// pidfd opened first and then checked to name a child of the same parent
// still: a pid that ended and was reused by another host process between
// the walk and the signal is left alone.
void kill_tree() {
  for (auto [pid, ppid] : descendants(getpid(), all_processes())) {
    int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
    if (pidfd < 0) {
      // A kernel before 5.3 has no pidfds: the check and kill(2), with
      // the reuse window between them.
      if (errno == ENOSYS && parent_of(pid) == ppid) kill(pid, SIGKILL);
      continue;
    }
    if (parent_of(pid) == ppid) syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, nullptr, 0);
    close(pidfd);
  }
}

struct Reaped {
  bool main_done = false;
  int main_status = 0;
  rusage main_usage{};
  bool none_left = false;
};

// Reaps what has ended (any child: the first process, orphans the
// subreaper received, clones with another exit signal).
void reap(pid_t main_pid, Reaped& r) {
  for (;;) {
    int status;
    rusage ru;
    pid_t pid = wait4(-1, &status, WNOHANG | __WALL, &ru);
    if (pid < 0 && errno == EINTR) continue;
    if (pid < 0) {
      r.none_left = true;  // ECHILD
      return;
    }
    if (pid == 0) return;
    if (pid == main_pid) {
      r.main_done = true;
      r.main_status = status;
      r.main_usage = ru;
    }
  }
}

// Kills and reaps the whole tree; returns when no child is left, or after
// a minute of trying (a process that SIGKILL does not end within that, in
// an uninterruptible wait, is named and left: the supervisor never hangs).
void end_sandbox(pid_t main_pid, Reaped& r) {
  const uint64_t give_up = now_ns() + 60 * 1000000000ull;
  for (;;) {
    kill_tree();
    reap(main_pid, r);
    if (r.none_left) return;
    if (now_ns() > give_up) {
      for (auto [pid, ppid] : descendants(getpid(), all_processes()))
        log_error("process %d of the sandbox does not end after SIGKILL", pid);
      return;
    }
    timespec pause = {0, 2000000};
    nanosleep(&pause, nullptr);
  }
}

void write_report(const std::string& path, int fd, const std::string& tmp, const RunRecord& rec) {
  std::string text = report_json(rec);
  const char* p = text.data();
  size_t left = text.size();
  bool ok = true;
  while (left > 0) {
    ssize_t n = write(fd, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ok = false;
      break;
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
  if (ok && fsync(fd) != 0) ok = false;
  int err = errno;
  close(fd);
  if (ok && rename(tmp.c_str(), path.c_str()) != 0) {
    ok = false;
    err = errno;
  }
  if (!ok) {
    log_error("--report %s: %s", path.c_str(), strerror(err));
    unlink(tmp.c_str());
  }
}

// Exits as the first process ended: its exit status, or death by its
// signal (so that the shell sees what it would see without a supervisor;
// no core file of the supervisor's own), 128 + N if that signal does not
// end this process.
[[noreturn]] void exit_like(int status) {
  if (WIFEXITED(status)) _exit(WEXITSTATUS(status));
  int sig = WTERMSIG(status);
  rlimit no_core = {0, 0};
  setrlimit(RLIMIT_CORE, &no_core);
  signal(sig, SIG_DFL);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, sig);
  sigprocmask(SIG_UNBLOCK, &set, nullptr);
  raise(sig);
  _exit(128 + sig);
}

}  // namespace

std::vector<std::pair<pid_t, pid_t>> descendants(
    pid_t root, const std::vector<std::pair<pid_t, pid_t>>& pid_ppid) {
  std::multimap<pid_t, pid_t> children;
  for (auto [pid, ppid] : pid_ppid) children.emplace(ppid, pid);
  std::vector<std::pair<pid_t, pid_t>> out;
  std::set<pid_t> seen = {root};  // a snapshot of a changing /proc may hold a cycle
  std::vector<pid_t> todo = {root};
  while (!todo.empty()) {
    pid_t parent = todo.back();
    todo.pop_back();
    auto [b, e] = children.equal_range(parent);
    for (auto it = b; it != e; ++it) {
      if (!seen.insert(it->second).second) continue;
      out.emplace_back(it->second, parent);
      todo.push_back(it->second);
    }
  }
  return out;
}

std::string report_json(const RunRecord& r) {
  char buf[1024];
  auto opt = [](const std::optional<int>& v) {
    return v ? std::to_string(*v) : std::string("null");
  };
  snprintf(buf, sizeof buf,
           "{\n"
           "  \"exit_status\": %s,\n"
           "  \"signal\": %s,\n"
           "  \"elfuse_status\": %d,\n"
           "  \"limit\": \"%s\",\n"
           "  \"wall_time_s\": %.6f,\n"
           "  \"user_cpu_s\": %.6f,\n"
           "  \"system_cpu_s\": %.6f,\n"
           "  \"peak_rss_kib\": %llu,\n"
           "  \"processes\": %llu\n"
           "}\n",
           opt(r.exit_status).c_str(), opt(r.signal).c_str(), r.elfuse_status, r.limit, r.wall_s,
           r.user_cpu_s, r.system_cpu_s, static_cast<unsigned long long>(r.peak_rss_kib),
           static_cast<unsigned long long>(r.processes));
  return buf;
}

void count_process() {
  if (g_shared) g_shared->processes.fetch_add(1, std::memory_order_relaxed);
}

void supervise(const SupervisorConfig& config) {
  // The report's temporary file, next to it (rename is atomic within a
  // file system), created now so that an unwritable place is an error
  // before the guest runs.
  int report_fd = -1;
  std::string tmp;
  if (!config.report.empty()) {
    tmp = config.report + ".tmp." + std::to_string(getpid());
    report_fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (report_fd < 0) {
      log_error("--report %s: cannot create %s: %s", config.report.c_str(), tmp.c_str(),
                strerror(errno));
      exit(125);
    }
  }
  void* shared =
      mmap(nullptr, sizeof(Shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (shared == MAP_FAILED) {
    log_error("cannot map the sandbox's shared counters: %s", strerror(errno));
    if (report_fd >= 0) unlink(tmp.c_str());
    exit(125);
  }
  g_shared = new (shared) Shared{};
  g_shared->processes.store(1, std::memory_order_relaxed);
  if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) {
    log_error("cannot become the sandbox's subreaper: %s", strerror(errno));
    if (report_fd >= 0) unlink(tmp.c_str());
    exit(125);
  }
  // The signals the supervisor waits for are blocked before the fork, so
  // that none is lost; the child gets the mask elfuse started with back.
  sigset_t wait_set, old_mask;
  sigemptyset(&wait_set);
  for (int s : {SIGCHLD, SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2})
    sigaddset(&wait_set, s);
  sigprocmask(SIG_BLOCK, &wait_set, &old_mask);
  // SIGCHLD ignored (inherited) would reap the children by themselves: the
  // supervisor takes the default, the child gets what elfuse started with.
  struct sigaction old_chld, dfl = {};
  dfl.sa_handler = SIG_DFL;
  sigaction(SIGCHLD, &dfl, &old_chld);
  const uint64_t start = now_ns();
  const pid_t supervisor = getpid();
  pid_t main_pid = fork();
  if (main_pid < 0) {
    log_error("cannot start the sandbox: fork: %s", strerror(errno));
    if (report_fd >= 0) unlink(tmp.c_str());
    exit(125);
  }
  if (main_pid == 0) {
    if (report_fd >= 0) close(report_fd);
    // The sandbox dies with its supervisor, should the supervisor be
    // killed (the rest of the tree then has no one above it).
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != supervisor) _exit(125);
    sigaction(SIGCHLD, &old_chld, nullptr);
    sigprocmask(SIG_SETMASK, &old_mask, nullptr);
    return;
  }

  Reaped reaped;
  const char* limit = "none";
  for (;;) {
    siginfo_t info;
    int sig;
    if (config.timeout_ns) {
      uint64_t now = now_ns(), deadline = start + *config.timeout_ns;
      if (now >= deadline) {
        limit = "timeout";
        break;
      }
      uint64_t left = deadline - now;
      timespec ts = {static_cast<time_t>(left / 1000000000ull),
                     static_cast<long>(left % 1000000000ull)};
      sig = sigtimedwait(&wait_set, &info, &ts);
      if (sig < 0 && errno == EAGAIN) continue;  // the deadline: checked above
    } else {
      sig = sigwaitinfo(&wait_set, &info);
    }
    if (sig < 0) continue;  // EINTR
    if (sig == SIGCHLD) {
      reap(main_pid, reaped);
      if (reaped.main_done) break;
      continue;
    }
    // Signals sent to elfuse (kill, not the terminal's, which reach the
    // guest processes of the foreground group by themselves) go to the
    // first process, as when it has no supervisor.
    if (info.si_code != SI_KERNEL) kill(main_pid, sig);
  }
  end_sandbox(main_pid, reaped);
  const uint64_t end = now_ns();

  RunRecord rec;
  rec.limit = limit;
  int status = reaped.main_status;
  if (WIFEXITED(status)) {
    rec.exit_status = WEXITSTATUS(status);
    rec.elfuse_status = WEXITSTATUS(status);
  } else {
    rec.signal = WTERMSIG(status);
    rec.elfuse_status = 128 + WTERMSIG(status);
    // RLIMIT_CPU ends a process with SIGXCPU (default action) or, at the
    // hard limit, SIGKILL: a SIGKILL with that much CPU time is the limit's.
    double cpu = seconds(reaped.main_usage.ru_utime) + seconds(reaped.main_usage.ru_stime);
    if (rec.limit == std::string("none") && config.cpu_hard_s &&
        (WTERMSIG(status) == SIGXCPU ||
         (WTERMSIG(status) == SIGKILL && cpu + 0.05 >= static_cast<double>(*config.cpu_hard_s))))
      rec.limit = "cpu-time";
  }
  if (rec.limit == std::string("timeout")) {
    rec.elfuse_status = kTimeoutStatus;
    log_error("--timeout: %.3f s passed; every process of the sandbox was killed",
              static_cast<double>(*config.timeout_ns) / 1e9);
  }
  rusage all{};
  getrusage(RUSAGE_CHILDREN, &all);
  rec.wall_s = static_cast<double>(end - start) / 1e9;
  rec.user_cpu_s = seconds(all.ru_utime);
  rec.system_cpu_s = seconds(all.ru_stime);
  rec.peak_rss_kib = static_cast<uint64_t>(all.ru_maxrss);
  rec.processes = g_shared->processes.load(std::memory_order_relaxed);
  if (report_fd >= 0) write_report(config.report, report_fd, tmp, rec);
  if (rec.limit == std::string("timeout")) _exit(kTimeoutStatus);
  exit_like(status);
}

}  // namespace elfuse::sandbox
