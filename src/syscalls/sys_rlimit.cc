// Resource limits and usage: getrlimit, setrlimit, prlimit64, getrusage.
// Most limits are the host's, so they pass straight through; the exception
// is the limits that would limit elfuse itself (mm/guest_limits.h): the
// guest's values are elfuse's bookkeeping, RLIMIT_NOFILE in FdRules so the
// guest can never reach the fds elfuse keeps at and above the floor.
#include <linux/capability.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <mutex>
#include <string>

#include "syscalls/fs_common.h"
#include "syscalls/out_struct.h"
#include "syscalls/table.h"

namespace elfuse {

using namespace fs;

static_assert(sizeof(struct rusage) == 144);
static_assert(sizeof(struct rlimit) == 16);

namespace {

// Serialises updates of the virtual limits (kernel/sys.c do_prlimit holds
// task_lock for the same reason).
std::mutex g_rlimit_mu;

bool host_has_cap_sys_resource() {
  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  if (::syscall(SYS_capget, &hdr, data) < 0) return false;
  return (data[CAP_SYS_RESOURCE / 32].effective >> (CAP_SYS_RESOURCE % 32)) & 1;
}

// kernel/sys.c do_prlimit for the calling process. The limits elfuse keeps
// for the guest (rlimit_is_virtual) are read and set here and never touch
// elfuse's host limits; RLIMIT_NOFILE lives in FdRules, where the fd floor
// plays the part of sysctl fs.nr_open (the guest can use every descriptor
// below any hard limit it may set). The others are the host's.
Result<void> prlimit_self(Process& p, unsigned resource, const struct rlimit* new_lim,
                          struct rlimit* old_lim) {
  if (resource >= RLIM_NLIMITS) return Errno{EINVAL};
  if (!rlimit_is_virtual(static_cast<int>(resource))) {
    if (::syscall(SYS_prlimit64, 0, resource, new_lim, old_lim) < 0) return Errno{errno};
    return Ok();
  }
  const int r = static_cast<int>(resource);
  std::lock_guard<std::mutex> lock(g_rlimit_mu);
  const bool nofile = r == RLIMIT_NOFILE;
  struct rlimit cur {
    nofile ? p.fds.nofile_soft : p.limits.cur(r), nofile ? p.fds.nofile_hard : p.limits.max(r)
  };
  if (new_lim) {
    if (new_lim->rlim_cur > new_lim->rlim_max) return Errno{EINVAL};
    if (nofile && new_lim->rlim_max > static_cast<uint64_t>(p.fds.floor)) return Errno{EPERM};
    if (new_lim->rlim_max > cur.rlim_max && !host_has_cap_sys_resource()) return Errno{EPERM};
    if (nofile) {
      p.fds.nofile_soft = new_lim->rlim_cur;
      p.fds.nofile_hard = new_lim->rlim_max;
    } else {
      p.limits.set(r, new_lim->rlim_cur, new_lim->rlim_max);
    }
  }
  if (old_lim) *old_lim = cur;
  return Ok();
}

// Whether pid names this process (or one of its threads): those limits are
// the guest's own and may be virtual. tgkill with signal 0 only checks that
// the tid is in our thread group.
bool is_own_process(int pid) {
  if (pid == 0 || pid == ::getpid()) return true;
  if (pid < 0) return false;
  return ::syscall(SYS_tgkill, ::getpid(), pid, 0) == 0;
}

// Whether host process pid runs elfuse (its executable is ours): a guest
// process, whose guest limits its own elfuse keeps.
bool runs_elfuse(int pid) {
  struct stat self {
  }, other{};
  std::string exe = "/proc/" + std::to_string(pid) + "/exe";
  if (::stat("/proc/self/exe", &self) != 0 || ::stat(exe.c_str(), &other) != 0) return false;
  return self.st_dev == other.st_dev && self.st_ino == other.st_ino;
}

}  // namespace

int64_t sys_getrlimit(SyscallContext& ctx, const SyscallArgs& a) {
  struct rlimit old {};
  auto r = prlimit_self(ctx.proc, arg_uint(a.a[0]), nullptr, &old);
  if (!r) return -r.error();
  auto c = ctx.mm.copy_out(a.a[1], &old, sizeof(old));
  return c ? 0 : -c.error();
}

int64_t sys_setrlimit(SyscallContext& ctx, const SyscallArgs& a) {
  struct rlimit lim;
  auto c = ctx.mm.copy_in(&lim, a.a[1], sizeof(lim));
  if (!c) return -c.error();
  return to_rax(prlimit_self(ctx.proc, arg_uint(a.a[0]), &lim, nullptr));
}

// prlimit64(2), kernel/sys.c: copy the new limit in, find the task, apply,
// copy the old limit out. Other processes are the host's business.
int64_t sys_prlimit64(SyscallContext& ctx, const SyscallArgs& a) {
  int pid = arg_int(a.a[0]);
  unsigned resource = arg_uint(a.a[1]);
  uint64_t new_addr = a.a[2], old_addr = a.a[3];
  struct rlimit new_lim {
  }, old_lim{};
  if (new_addr) {
    auto c = ctx.mm.copy_in(&new_lim, new_addr, sizeof(new_lim));
    if (!c) return -c.error();
  }
  if (is_own_process(pid)) {
    auto r = prlimit_self(ctx.proc, resource, new_addr ? &new_lim : nullptr,
                          old_addr ? &old_lim : nullptr);
    if (!r) return -r.error();
  } else if (resource >= RLIM_NLIMITS) {
    return -EINVAL;
  } else {
    // Another process: the host finds it and checks the caller's right to
    // it (check_prlimit_permission) on a read first. Another guest
    // process's limits that its elfuse keeps are out of reach from here:
    // they are neither read from nor applied to that elfuse's host limits
    // (which would limit that elfuse itself); the call answers with the
    // host's values and changes nothing (docs/internals.md "Resource
    // limits"). A host process that is not a guest gets the call as is.
    if (::syscall(SYS_prlimit64, pid, resource, nullptr, &old_lim) < 0)
      return -static_cast<int64_t>(errno);
    if (new_addr) {
      if (new_lim.rlim_cur > new_lim.rlim_max) return -EINVAL;
      if (!(rlimit_is_virtual(static_cast<int>(resource)) && runs_elfuse(pid)) &&
          ::syscall(SYS_prlimit64, pid, resource, &new_lim, &old_lim) < 0)
        return -static_cast<int64_t>(errno);
    }
  }
  if (old_addr) {
    auto c = ctx.mm.copy_out(old_addr, &old_lim, sizeof(old_lim));
    if (!c) return -c.error();
  }
  return 0;
}

int64_t sys_getrusage(SyscallContext& ctx, const SyscallArgs& a) {
  struct rusage ru {};
  long r = ::syscall(SYS_getrusage, arg_int(a.a[0]), &ru);
  return out_struct(ctx, r, a.a[1], ru);
}

}  // namespace elfuse
