// Event descriptors: epoll, eventfd, timerfd, signalfd, inotify. The objects are the
// host kernel's (guest fds are host fds), so readiness, edge and level
// triggering, EPOLLONESHOT/EPOLLEXCLUSIVE, and what happens when watched fds
// are closed or dup'd are the kernel's own; elfuse translates pointers and
// keeps its own fds out of reach.
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <vector>

#include "kernel/signal.h"
#include "syscalls/fs_common.h"
#include "syscalls/sigmask_arg.h"
#include "syscalls/table.h"
#include "syscalls/uaccess.h"

namespace elfuse {

using fs::guest_fd;
using fs::new_fd_result;

namespace {

static_assert(sizeof(epoll_event) == 12, "x86_64 epoll_event is packed");
// fs/eventpoll.c: EP_MAX_EVENTS.
constexpr int kEpMaxEvents = INT_MAX / sizeof(epoll_event);
// Events fetched per call at most; fewer than asked is a legal answer and
// bounds the host buffer a guest can make elfuse allocate.
constexpr int kEventsPerCall = 1024;

// epoll_wait, epoll_pwait, epoll_pwait2: fs/eventpoll.c do_epoll_wait checks
// maxevents (EINVAL) and access_ok of the buffer before waiting; a buffer
// that is not mapped is EFAULT only when events are copied to it.
int64_t epoll_wait_common(SyscallContext& ctx, Fd epfd_arg, Bytes events, int maxevents,
                          const timespec* timeout, int timeout_ms, GuestAddr mask_addr,
                          uint64_t mask_size, bool pwait2) {
  Result<int> epfd = guest_fd(ctx.proc, epfd_arg);
  if (!epfd.ok()) return -epfd.error();
  if (maxevents <= 0 || maxevents > kEpMaxEvents) return -EINVAL;
  int n = std::min(maxevents, kEventsPerCall);
  if (!linux_access_ok(events.addr, uint64_t(maxevents) * sizeof(epoll_event))) return -EFAULT;
  uint64_t mask = 0;
  bool have_mask = false;
  if (auto r = read_user_sigmask(ctx.mm, mask_addr.addr, mask_size, &mask, &have_mask); !r.ok())
    return -r.error();
  std::vector<epoll_event> buf(n);
  long got;
  if (pwait2)
    got = syscall(SYS_epoll_pwait2, *epfd, buf.data(), n, timeout, have_mask ? &mask : nullptr,
                  kKernelSigsetSize);
  else
    got = syscall(SYS_epoll_pwait, *epfd, buf.data(), n, timeout_ms, have_mask ? &mask : nullptr,
                  kKernelSigsetSize);
  if (got <= 0) return host_rax(got);
  if (auto r = events.put(ctx.mm, buf.data(), uint64_t(got) * sizeof(epoll_event)); !r.ok())
    return -r.error();
  return got;
}

}  // namespace

// fs/eventpoll.c: size is only checked to be positive.
int64_t sys_epoll_create(SyscallContext& ctx, Int size) {
  if (size <= 0) return -EINVAL;
  return new_fd_result(ctx.proc, syscall(SYS_epoll_create1, 0));
}

int64_t sys_epoll_create1(SyscallContext& ctx, IntFlags flags) {
  return new_fd_result(ctx.proc, syscall(SYS_epoll_create1, flags.v));
}

// EPOLL_CTL_DEL ignores the event (it may be NULL); the other operations
// copy it in first (EFAULT before any fd check, as ep_op_has_event says).
int64_t sys_epoll_ctl(SyscallContext& ctx, Fd epfd_arg, Int op_arg, Fd fd_arg,
                      In<KernelEpollEvent> event) {
  int op = op_arg;
  epoll_event ev{};
  bool has_event = op != EPOLL_CTL_DEL;
  if (has_event) {
    auto r = event.get(ctx.mm);
    if (!r.ok()) return -r.error();
    ev = *r;
  }
  Result<int> epfd = guest_fd(ctx.proc, epfd_arg);
  if (!epfd.ok()) return -epfd.error();
  Result<int> fd = guest_fd(ctx.proc, fd_arg);
  if (!fd.ok()) return -fd.error();
  return host_rax(syscall(SYS_epoll_ctl, *epfd, op, *fd, has_event ? &ev : nullptr));
}

int64_t sys_epoll_wait(SyscallContext& ctx, Fd epfd, Bytes events, Int maxevents, Int timeout) {
  return epoll_wait_common(ctx, epfd, events, maxevents, nullptr, timeout, GuestAddr{0}, 0, false);
}

int64_t sys_epoll_pwait(SyscallContext& ctx, Fd epfd, Bytes events, Int maxevents, Int timeout,
                        GuestAddr sigmask, Size sigsetsize) {
  return epoll_wait_common(ctx, epfd, events, maxevents, nullptr, timeout, sigmask, sigsetsize,
                           false);
}

// epoll_pwait2: a timespec (NULL: wait forever), checked as the kernel does.
int64_t sys_epoll_pwait2(SyscallContext& ctx, Fd epfd, Bytes events, Int maxevents,
                         In<KernelTimespec> timeout_arg, GuestAddr sigmask, Size sigsetsize) {
  timespec ts;
  const timespec* timeout = nullptr;
  if (!timeout_arg.null()) {
    auto r = timeout_arg.get(ctx.mm);
    if (!r.ok()) return -r.error();
    ts = *r;
    timeout = &ts;
  }
  return epoll_wait_common(ctx, epfd, events, maxevents, timeout, 0, sigmask, sigsetsize, true);
}

int64_t sys_eventfd(SyscallContext& ctx, UInt count) {
  return new_fd_result(ctx.proc, syscall(SYS_eventfd2, count.v, 0));
}

int64_t sys_eventfd2(SyscallContext& ctx, UInt count, IntFlags flags) {
  return new_fd_result(ctx.proc, syscall(SYS_eventfd2, count.v, flags.v));
}

int64_t sys_timerfd_create(SyscallContext& ctx, ClockId clockid, IntFlags flags) {
  return new_fd_result(ctx.proc, syscall(SYS_timerfd_create, clockid.v, flags.v));
}

// fs/timerfd.c: the new value is read before the fd is looked at; the old
// value is written after the change.
int64_t sys_timerfd_settime(SyscallContext& ctx, Fd fd_arg, IntFlags flags,
                            In<KernelItimerspec> new_value, Out<KernelItimerspec> old_value) {
  itimerspec next, old{};
  auto nv = new_value.get(ctx.mm);
  if (!nv.ok()) return -nv.error();
  next = *nv;
  Result<int> fd = guest_fd(ctx.proc, fd_arg);
  if (!fd.ok()) return -fd.error();
  long r = syscall(SYS_timerfd_settime, *fd, flags.v, &next, !old_value.null() ? &old : nullptr);
  if (r < 0) return -errno;
  if (!old_value.null()) return to_rax(old_value.put(ctx.mm, old));
  return 0;
}

int64_t sys_timerfd_gettime(SyscallContext& ctx, Fd fd_arg, Out<KernelItimerspec> curr_value) {
  Result<int> fd = guest_fd(ctx.proc, fd_arg);
  if (!fd.ok()) return -fd.error();
  itimerspec cur{};
  if (syscall(SYS_timerfd_gettime, *fd, &cur) < 0) return -errno;
  return to_rax(curr_value.put(ctx.mm, cur));
}

// fs/signalfd.c: the mask size must be the kernel's sigset_t. The signals
// are the host's (guest signals are host signals); SIGKILL and SIGSTOP are
// dropped by the kernel itself.
namespace {
int64_t do_signalfd(SyscallContext& ctx, Fd fd_arg, In<uint64_t> mask_arg, uint64_t size,
                    int flags) {
  if (size != kKernelSigsetSize) return -EINVAL;
  auto m = mask_arg.get(ctx.mm);
  if (!m.ok()) return -m.error();
  uint64_t mask = *m;
  int fd = fd_arg;
  if (fd != -1) {
    Result<int> g = guest_fd(ctx.proc, fd_arg);
    if (!g.ok()) return -g.error();
  }
  return new_fd_result(ctx.proc, syscall(SYS_signalfd4, fd, &mask, kKernelSigsetSize, flags));
}
}  // namespace

// The guest's SIGURG is kept by elfuse, not pending in the host kernel
// (kernel/signal.cc): a read of a signalfd that takes SIGURG is answered
// here while one is kept (fs/signalfd.c signalfd_read, signalfd_copyinfo).
// Only SIGURG: other signals pending in the host come at the next read.
bool fs::signalfd_read_kept(SyscallContext& ctx, int fd, uint64_t buf, uint64_t count,
                            int64_t* result) {
  if (!guest_fd(ctx.proc, static_cast<uint64_t>(fd)).ok()) return false;
  char path[64], target[64];
  snprintf(path, sizeof path, "/proc/thread-self/fd/%d", fd);
  ssize_t n = readlink(path, target, sizeof target - 1);
  if (n < 0) return false;
  target[n] = 0;
  if (strcmp(target, "anon_inode:[signalfd]") != 0) return false;
  snprintf(path, sizeof path, "/proc/thread-self/fdinfo/%d", fd);
  FILE* f = fopen(path, "re");
  if (!f) return false;
  char line[128];
  uint64_t mask = 0;
  while (fgets(line, sizeof line, f))
    if (strncmp(line, "sigmask:", 8) == 0) mask = strtoull(line + 8, nullptr, 16);
  fclose(f);
  if (!(mask & (uint64_t{1} << (SIGURG - 1)))) return false;
  signalfd_siginfo ssi;
  if (count < sizeof ssi) {
    *result = -EINVAL;
    return true;
  }
  siginfo_t si;
  if (!signals_take_kept_urg(ctx.thread, &si)) return false;
  memset(&ssi, 0, sizeof ssi);
  ssi.ssi_signo = static_cast<uint32_t>(si.si_signo);
  ssi.ssi_errno = si.si_errno;
  ssi.ssi_code = si.si_code;
  // siginfo_layout() for SIGURG: SIL_POLL for codes 1..NSIGPOLL and
  // SI_SIGIO, SIL_TIMER, SIL_RT for the other negative codes, else SIL_KILL.
  if ((si.si_code > SI_USER && si.si_code <= POLL_HUP) || si.si_code == SI_SIGIO) {
    ssi.ssi_band = static_cast<uint32_t>(si.si_band);
    ssi.ssi_fd = si.si_fd;
  } else if (si.si_code == SI_TIMER) {
    ssi.ssi_tid = static_cast<uint32_t>(si.si_timerid);
    ssi.ssi_overrun = static_cast<uint32_t>(si.si_overrun);
    ssi.ssi_ptr = reinterpret_cast<uint64_t>(si.si_ptr);
    ssi.ssi_int = si.si_int;
  } else {
    ssi.ssi_pid = static_cast<uint32_t>(si.si_pid);
    ssi.ssi_uid = si.si_uid;
    if (si.si_code < 0) {
      ssi.ssi_ptr = reinterpret_cast<uint64_t>(si.si_ptr);
      ssi.ssi_int = si.si_int;
    }
  }
  *result =
      ctx.mm.copy_out(buf, &ssi, sizeof ssi).ok() ? static_cast<int64_t>(sizeof ssi) : -EFAULT;
  return true;
}

int64_t sys_signalfd(SyscallContext& ctx, Fd fd, In<uint64_t> mask, Size size) {
  return do_signalfd(ctx, fd, mask, size, 0);
}

int64_t sys_signalfd4(SyscallContext& ctx, Fd fd, In<uint64_t> mask, Size size, IntFlags flags) {
  return do_signalfd(ctx, fd, mask, size, flags);
}

// inotify (fs/notify/inotify/inotify_user.c): the instance is the host's,
// its events are read with read(2) from the guest fd like any other host
// fd, and carry names relative to the watched directory, which need no
// translation. Only the path of inotify_add_watch is the guest's.
int64_t sys_inotify_init(SyscallContext& ctx) {
  return new_fd_result(ctx.proc, syscall(SYS_inotify_init1, 0));
}

int64_t sys_inotify_init1(SyscallContext& ctx, IntFlags flags) {
  return new_fd_result(ctx.proc, syscall(SYS_inotify_init1, flags.v));
}

// inotify_add_watch(fd, pathname, mask): the mask checks (EINVAL), the fd
// (EBADF, EINVAL for a non-inotify fd), then the lookup (user_path_at:
// EFAULT, ENAMETOOLONG, ENOENT...) and read permission (EACCES). The host
// makes all of them in that order: elfuse's own fds reach it as -1 (EBADF),
// an unreadable path as NULL (EFAULT), an over-long one as over-long.
// Under --sysroot the path is resolved inside the root (following the last
// symlink unless IN_DONT_FOLLOW, a directory for IN_ONLYDIR) and the host
// watches /proc/self/fd/N, whose magic link it follows to exactly that
// object; a failed lookup is reported after the host's own checks of the
// mask and fd.
int64_t sys_inotify_add_watch(SyscallContext& ctx, Fd fd_arg, Path path_arg, UIntFlags mask_arg) {
  int fd = fd_arg;
  if (fd >= ctx.proc.fds.floor) fd = -1;
  const uint32_t mask = mask_arg;
  auto path = path_arg.get(ctx.mm);
  if (!path) {
    if (path.error() != ENAMETOOLONG)
      return host_rax(syscall(SYS_inotify_add_watch, fd, nullptr, mask));
    std::string longer(fs::kPathMax, 'x');
    return host_rax(syscall(SYS_inotify_add_watch, fd, longer.c_str(), mask));
  }
  const bool follow = !(mask & IN_DONT_FOLLOW);
  if (!ctx.proc.sysroot) {
    std::string host = follow ? fs::followed_host_path(ctx.proc, *path) : *path;
    return host_rax(syscall(SYS_inotify_add_watch, fd, host.c_str(), mask));
  }
  auto obj = fs::root_lookup(ctx.proc, AT_FDCWD, *path, follow, mask & IN_ONLYDIR);
  if (!obj) {
    long r = syscall(SYS_inotify_add_watch, fd, "", mask);
    if (r < 0 && errno != ENOENT) return -static_cast<int64_t>(errno);
    return -static_cast<int64_t>(obj.error());
  }
  std::string host = proc_fd_path(obj->get());
  return host_rax(syscall(SYS_inotify_add_watch, fd, host.c_str(), mask & ~IN_DONT_FOLLOW));
}

int64_t sys_inotify_rm_watch(SyscallContext& ctx, Fd fd_arg, Int wd) {
  int fd = fd_arg;
  if (fd >= ctx.proc.fds.floor) fd = -1;
  return host_rax(syscall(SYS_inotify_rm_watch, fd, wd.v));
}

}  // namespace elfuse
