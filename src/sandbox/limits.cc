#include "sandbox/limits.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "base/log.h"
#include "fs/sysroot.h"

namespace elfuse::sandbox {
namespace {

[[noreturn]] void refuse(const char* fmt, unsigned long long a, unsigned long long b) {
  log_error(fmt, a, b);
  exit(125);
}

// Sets a host limit the guest shares with elfuse's process; refused when
// it would raise the hard limit elfuse was started with.
void set_host_limit(int resource, uint64_t soft, uint64_t hard, const char* option) {
  rlimit now{};
  getrlimit(resource, &now);
  if (now.rlim_max != RLIM_INFINITY && hard > now.rlim_max) {
    log_error("%s: above the hard limit elfuse was started with (%llu)", option,
              static_cast<unsigned long long>(now.rlim_max));
    exit(125);
  }
  rlimit lim = {soft, hard};
  if (setrlimit(resource, &lim) != 0) {
    log_error("%s: setrlimit: %s", option, strerror(errno));
    exit(125);
  }
}

}  // namespace

void apply_limits(const Options& o, FdRules& fds) {
  // As prlimit --cpu=N:N+1: the kernel sends SIGXCPU at the soft limit
  // (then once a second) and SIGKILL at the hard one
  // (kernel/time/posix-cpu-timers.c check_process_timers); with soft ==
  // hard, as `ulimit -t N` sets it, it would send SIGKILL alone.
  if (o.cpu_time_s) set_host_limit(RLIMIT_CPU, *o.cpu_time_s, *o.cpu_time_s + 1, "--cpu-time");
  if (o.max_file_size)
    set_host_limit(RLIMIT_FSIZE, *o.max_file_size, *o.max_file_size, "--max-file-size");
  if (o.nofile) {
    // The guest's descriptors are the host's below the fd floor
    // (setup_fd_floor): it can have no more than that.
    uint64_t most = std::min<uint64_t>(fds.nofile_hard, static_cast<uint64_t>(fds.floor));
    if (*o.nofile > most)
      refuse(
          "--nofile %llu: elfuse can give the program at most %llu descriptors here (its "
          "host RLIMIT_NOFILE hard limit less elfuse's own; docs/internals.md, \"File "
          "descriptors\")",
          static_cast<unsigned long long>(*o.nofile), static_cast<unsigned long long>(most));
    fds.nofile_soft = fds.nofile_hard = *o.nofile;
  }
}

void enter_workdir(const std::string& dir, const Sysroot* root) {
  if (!root) {
    if (chdir(dir.c_str()) != 0) {
      log_error("--workdir %s: %s", dir.c_str(), strerror(errno));
      exit(125);
    }
    return;
  }
  Result<UniqueFd> fd = root->lookup(AT_FDCWD, dir, /*follow=*/true, /*directory=*/true);
  if (!fd.ok()) {
    log_error("--workdir %s (in the sysroot): %s", dir.c_str(), strerror(fd.error()));
    exit(125);
  }
  if (fchdir(fd->get()) != 0) {
    log_error("--workdir %s (in the sysroot): %s", dir.c_str(), strerror(errno));
    exit(125);
  }
}

}  // namespace elfuse::sandbox
