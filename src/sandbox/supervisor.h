// The supervisor of a sandbox run (--timeout, --report; issue 17). elfuse
// forks before anything else happens: the child goes on to run the guest
// (it is the sandbox's first elfuse process, as without options), and the
// parent stays outside the sandbox as its supervisor. It is the children's
// subreaper (PR_SET_CHILD_SUBREAPER), so every process of the sandbox, forks
// of forks and orphans included, stays in its tree of descendants: that
// tree is the sandbox. When the first process ends, or the wall-clock
// limit passes, it kills the whole tree with SIGKILL (every process found
// by walking /proc's parent links down from itself, signalled through a
// pidfd checked to be that child still), reaps it, writes the report and
// exits with the first process's status (124 after --timeout).
// docs/internals.md, "Sandbox controls".
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace elfuse::sandbox {

struct SupervisorConfig {
  std::optional<uint64_t> timeout_ns;  // wall clock from the fork
  std::string report;                  // JSON report's path; empty: none
  std::optional<uint64_t> cpu_hard_s;  // the first process's RLIMIT_CPU hard limit
};

// elfuse's exit status when --timeout ended the run (as timeout(1)).
inline constexpr int kTimeoutStatus = 124;

// Forks the sandbox's first process and returns in it; the parent
// supervises and exits, never returning. An error before the fork (the
// report cannot be created) is fatal with status 125.
void supervise(const SupervisorConfig& config);

// The parent of a guest fork, after the host fork succeeded: one more
// process for the report (a no-op unless supervised).
void count_process();

// What the report says (--report=FILE).
struct RunRecord {
  std::optional<int> exit_status;  // the first process exited with it
  std::optional<int> signal;       // or was killed by this signal
  int elfuse_status = 0;           // what elfuse exits with
  const char* limit = "none";      // "timeout", "cpu-time" or "none"
  double wall_s = 0;
  double user_cpu_s = 0;
  double system_cpu_s = 0;
  uint64_t peak_rss_kib = 0;
  uint64_t processes = 0;
};
std::string report_json(const RunRecord& r);

// The pids of the processes whose parent is in `roots` or is one of them,
// transitively, from (pid, ppid) pairs: the sandbox's tree below the
// supervisor.
std::vector<std::pair<pid_t, pid_t>> descendants(
    pid_t root, const std::vector<std::pair<pid_t, pid_t>>& pid_ppid);

}  // namespace elfuse::sandbox
