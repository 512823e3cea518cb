// System information, identity, limits and time. Guest pid/tid/uid are the
// host's, so most of these pass straight through; the exception is the
// resource limits that would limit elfuse itself (mm/guest_limits.h): the
// guest's values are elfuse's bookkeeping, RLIMIT_NOFILE in FdRules so the
// guest can never reach the fds elfuse keeps at and above the floor.
#include <linux/capability.h>
#include <sched.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <sys/time.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <mutex>
#include <string>
#include <vector>

#include "syscalls/fs_common.h"
#include "syscalls/table.h"

namespace elfuse {

using namespace fs;

static_assert(sizeof(struct utsname) == 390);
static_assert(sizeof(struct sysinfo) == 112);
static_assert(sizeof(struct rusage) == 144);
static_assert(sizeof(struct rlimit) == 16);

namespace {

#ifndef GRND_INSECURE
constexpr unsigned GRND_INSECURE = 0x0004;
#endif

// Serialises updates of the virtual limits (kernel/sys.c do_prlimit holds
// task_lock for the same reason).
std::mutex g_rlimit_mu;

template <typename T>
int64_t out_struct(SyscallContext& ctx, long host_ret, uint64_t guest, const T& value) {
  if (host_ret < 0) return -static_cast<int64_t>(errno);
  auto r = ctx.mm.copy_out(guest, &value, sizeof(T));
  if (!r) return -r.error();
  return host_ret;
}

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

int64_t sys_uname(SyscallContext& ctx, const SyscallArgs& a) {
  struct utsname u {};
  long r = ::syscall(SYS_uname, &u);
  return out_struct(ctx, r, a.a[0], u);
}

int64_t sys_sysinfo(SyscallContext& ctx, const SyscallArgs& a) {
  struct sysinfo si {};
  long r = ::syscall(SYS_sysinfo, &si);
  return out_struct(ctx, r, a.a[0], si);
}

// getrandom(2), drivers/char/random.c: unknown flags, or GRND_INSECURE with
// GRND_RANDOM, are EINVAL before the buffer is looked at; the count is
// clamped to MAX_RW_COUNT. A short fill (signal, or a split buffer whose
// later piece would block) returns the bytes written so far.
int64_t sys_getrandom(SyscallContext& ctx, const SyscallArgs& a) {
  unsigned flags = arg_uint(a.a[2]);
  if (flags & ~(GRND_NONBLOCK | GRND_RANDOM | GRND_INSECURE)) return -EINVAL;
  if ((flags & (GRND_INSECURE | GRND_RANDOM)) == (GRND_INSECURE | GRND_RANDOM)) return -EINVAL;
  uint64_t len = std::min(a.a[1], kMaxRwCount);
  auto iov = ctx.mm.host_ranges(a.a[0], len, PROT_WRITE);
  if (!iov) return -iov.error();
  if (iov->empty()) return host_rax(::syscall(SYS_getrandom, nullptr, 0, flags));
  int64_t total = 0;
  for (const auto& v : *iov) {
    long r = ::syscall(SYS_getrandom, v.iov_base, v.iov_len, flags);
    if (r < 0) return total > 0 ? total : -static_cast<int64_t>(errno);
    total += r;
    if (static_cast<size_t>(r) < v.iov_len) break;
  }
  return total;
}

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

int64_t sys_getuid(SyscallContext&, const SyscallArgs&) {
  return host_rax(::syscall(SYS_getuid));
}
int64_t sys_geteuid(SyscallContext&, const SyscallArgs&) {
  return host_rax(::syscall(SYS_geteuid));
}
int64_t sys_getgid(SyscallContext&, const SyscallArgs&) {
  return host_rax(::syscall(SYS_getgid));
}
int64_t sys_getegid(SyscallContext&, const SyscallArgs&) {
  return host_rax(::syscall(SYS_getegid));
}

// getgroups(2), kernel/groups.c: size 0 returns the count; a negative size
// is EINVAL, a too-small one EINVAL; NGROUPS_MAX bounds the list.
int64_t sys_getgroups(SyscallContext& ctx, const SyscallArgs& a) {
  int size = arg_int(a.a[0]);
  if (size < 0) return -EINVAL;
  std::vector<gid_t> groups(std::min(size, 65536));
  long r = ::syscall(SYS_getgroups, groups.size(), groups.data());
  if (r < 0) return -static_cast<int64_t>(errno);
  if (size == 0) return r;
  auto c = ctx.mm.copy_out(a.a[1], groups.data(), static_cast<uint64_t>(r) * sizeof(gid_t));
  return c ? r : -c.error();
}

namespace {
// getresuid/getresgid: kernel/sys.c writes the three ids one by one.
int64_t three_ids(SyscallContext& ctx, const SyscallArgs& a, long nr) {
  uint32_t ids[3];
  if (::syscall(nr, &ids[0], &ids[1], &ids[2]) < 0) return -static_cast<int64_t>(errno);
  for (int i = 0; i < 3; i++) {
    auto c = ctx.mm.copy_out(a.a[i], &ids[i], sizeof(ids[i]));
    if (!c) return -c.error();
  }
  return 0;
}
}  // namespace

int64_t sys_getresuid(SyscallContext& ctx, const SyscallArgs& a) {
  return three_ids(ctx, a, SYS_getresuid);
}
int64_t sys_getresgid(SyscallContext& ctx, const SyscallArgs& a) {
  return three_ids(ctx, a, SYS_getresgid);
}

// The set*id family, kernel/sys.c. Credentials are per thread in the kernel
// (glibc's setuid() makes every thread call it, by signal), and a guest
// thread is a host thread, so each call is the host's raw syscall on the
// calling thread: the host kernel does the permission checks (EPERM, and
// EINVAL for an id with no mapping in the user namespace), and getuid and
// friends, file access and kill() then see the new ids. The ids are 32 bits
// (uid_t); -1 means "unchanged" where the call has that.
int64_t sys_setuid(SyscallContext&, const SyscallArgs& a) {
  return host_rax(::syscall(SYS_setuid, arg_uint(a.a[0])));
}
int64_t sys_setgid(SyscallContext&, const SyscallArgs& a) {
  return host_rax(::syscall(SYS_setgid, arg_uint(a.a[0])));
}
int64_t sys_setreuid(SyscallContext&, const SyscallArgs& a) {
  return host_rax(::syscall(SYS_setreuid, arg_uint(a.a[0]), arg_uint(a.a[1])));
}
int64_t sys_setregid(SyscallContext&, const SyscallArgs& a) {
  return host_rax(::syscall(SYS_setregid, arg_uint(a.a[0]), arg_uint(a.a[1])));
}
int64_t sys_setresuid(SyscallContext&, const SyscallArgs& a) {
  return host_rax(::syscall(SYS_setresuid, arg_uint(a.a[0]), arg_uint(a.a[1]), arg_uint(a.a[2])));
}
int64_t sys_setresgid(SyscallContext&, const SyscallArgs& a) {
  return host_rax(::syscall(SYS_setresgid, arg_uint(a.a[0]), arg_uint(a.a[1]), arg_uint(a.a[2])));
}
// setfsuid/setfsgid never fail: they return the old id, changed or not.
int64_t sys_setfsuid(SyscallContext&, const SyscallArgs& a) {
  return host_rax(::syscall(SYS_setfsuid, arg_uint(a.a[0])));
}
int64_t sys_setfsgid(SyscallContext&, const SyscallArgs& a) {
  return host_rax(::syscall(SYS_setfsgid, arg_uint(a.a[0])));
}

// setgroups(size, list), kernel/groups.c: the permission check (EPERM),
// then a size above NGROUPS_MAX (EINVAL), then the list is read (EFAULT).
// The host makes the first two checks; an oversized or unreadable guest
// list goes to it as an unreadable host pointer, so the errors come in the
// kernel's order.
int64_t sys_setgroups(SyscallContext& ctx, const SyscallArgs& a) {
  constexpr unsigned kNgroupsMax = 65536;  // include/uapi/linux/limits.h
  unsigned size = arg_uint(a.a[0]);
  if (size > kNgroupsMax) return host_rax(::syscall(SYS_setgroups, size, nullptr));
  std::vector<gid_t> groups(size);
  const gid_t* list = groups.data();
  if (size > 0 && !ctx.mm.copy_in(groups.data(), a.a[1], uint64_t{size} * sizeof(gid_t)))
    list = nullptr;
  return host_rax(::syscall(SYS_setgroups, size, list));
}

// sched_getaffinity(2), kernel/sched/core.c: len must cover nr_cpu_ids bits
// and be a multiple of sizeof(long) (EINVAL); returns the bytes written,
// min(len, cpumask size). Guest tid = host tid, so pid 0 is this thread.
int64_t sys_sched_getaffinity(SyscallContext& ctx, const SyscallArgs& a) {
  unsigned len = arg_uint(a.a[1]);
  if (len & (sizeof(long) - 1)) return -EINVAL;
  std::vector<unsigned char> mask(std::min(len, 1u << 16));
  // pid 0 is the calling thread: on its exitless worker (another host
  // thread, whose mask elfuse sets) the thread by its tid.
  int pid = arg_int(a.a[0]);
  if (pid == 0 && ctx.on_worker) pid = ctx.thread.tid;
  long r = ::syscall(SYS_sched_getaffinity, pid, mask.size(), mask.data());
  if (r < 0) return -static_cast<int64_t>(errno);
  auto c = ctx.mm.copy_out(a.a[2], mask.data(), static_cast<uint64_t>(r));
  return c ? r : -c.error();
}

int64_t sys_sched_yield(SyscallContext&, const SyscallArgs&) {
  return host_rax(::syscall(SYS_sched_yield));
}

// clock_gettime(2): CPU-time clocks of this process include elfuse's own
// time spent serving it, which is the cost the guest really incurs.
int64_t sys_clock_gettime(SyscallContext& ctx, const SyscallArgs& a) {
  struct timespec ts {};
  long r = ::syscall(SYS_clock_gettime, arg_int(a.a[0]), &ts);
  return out_struct(ctx, r, a.a[1], ts);
}

int64_t sys_clock_getres(SyscallContext& ctx, const SyscallArgs& a) {
  struct timespec ts {};
  long r = ::syscall(SYS_clock_getres, arg_int(a.a[0]), a.a[1] ? &ts : nullptr);
  if (r < 0 || a.a[1] == 0) return host_rax(r);
  return out_struct(ctx, r, a.a[1], ts);
}

// gettimeofday(2): either pointer may be NULL.
int64_t sys_gettimeofday(SyscallContext& ctx, const SyscallArgs& a) {
  struct timeval tv {};
  struct timezone tz {};
  if (::syscall(SYS_gettimeofday, &tv, &tz) < 0) return -static_cast<int64_t>(errno);
  if (a.a[0]) {
    auto c = ctx.mm.copy_out(a.a[0], &tv, sizeof(tv));
    if (!c) return -c.error();
  }
  if (a.a[1]) {
    auto c = ctx.mm.copy_out(a.a[1], &tz, sizeof(tz));
    if (!c) return -c.error();
  }
  return 0;
}

// time(2): returns the seconds and stores them when tloc is not NULL.
int64_t sys_time(SyscallContext& ctx, const SyscallArgs& a) {
  int64_t t = ::syscall(SYS_time, nullptr);
  if (a.a[0]) {
    auto c = ctx.mm.copy_out(a.a[0], &t, sizeof(t));
    if (!c) return -c.error();
  }
  return t;
}

// nanosleep(2): the remaining time is written only when interrupted.
int64_t sys_nanosleep(SyscallContext& ctx, const SyscallArgs& a) {
  struct timespec req, rem{};
  auto c = ctx.mm.copy_in(&req, a.a[0], sizeof(req));
  if (!c) return -c.error();
  long r = ::syscall(SYS_nanosleep, &req, &rem);
  if (r < 0 && errno == EINTR && a.a[1]) {
    auto w = ctx.mm.copy_out(a.a[1], &rem, sizeof(rem));
    if (!w) return -w.error();
  }
  return host_rax(r);
}

// clock_nanosleep(2): with TIMER_ABSTIME the remainder is never written.
int64_t sys_clock_nanosleep(SyscallContext& ctx, const SyscallArgs& a) {
  struct timespec req, rem{};
  int flags = arg_int(a.a[1]);
  auto c = ctx.mm.copy_in(&req, a.a[2], sizeof(req));
  if (!c) return -c.error();
  long r = ::syscall(SYS_clock_nanosleep, arg_int(a.a[0]), flags, &req, &rem);
  int err = errno;
  if (r < 0 && err == EINTR && a.a[3] && !(flags & TIMER_ABSTIME)) {
    auto w = ctx.mm.copy_out(a.a[3], &rem, sizeof(rem));
    if (!w) return -w.error();
  }
  return r < 0 ? -static_cast<int64_t>(err) : r;
}

// Guest pid/tid = host pid/tid: the handler runs on the guest thread's own
// host thread.
int64_t sys_getpid(SyscallContext&, const SyscallArgs&) {
  return ::syscall(SYS_getpid);
}
int64_t sys_getppid(SyscallContext&, const SyscallArgs&) {
  return ::syscall(SYS_getppid);
}
int64_t sys_gettid(SyscallContext&, const SyscallArgs&) {
  return ::syscall(SYS_gettid);
}

}  // namespace elfuse
