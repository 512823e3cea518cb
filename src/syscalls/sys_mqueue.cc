// POSIX message queues (ipc/mqueue.c): mq_open, mq_unlink, mq_timedsend,
// mq_timedreceive, mq_notify, mq_getsetattr. A queue is the host's (the
// host's IPC namespace, shared with native processes and other elfuse
// processes); a queue descriptor is a host fd below the floor. Guest
// structures and buffers are copied across in the order the kernel reads
// and writes them, so each error comes where Linux gives it.
#include <mqueue.h>
#include <signal.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cstring>
#include <memory>

#include "syscalls/fs_common.h"
#include "syscalls/table.h"
#include "syscalls/uio_common.h"

namespace elfuse {

using namespace fs;

static_assert(sizeof(struct mq_attr) == 64);
static_assert(sizeof(struct sigevent) == 64);

namespace {

// include/linux/mqueue.h / ipc/mqueue.c.
constexpr uint64_t kHardMsgSizeMax = 16 << 20;  // HARD_MSGSIZEMAX
constexpr size_t kNotifyCookieLen = 32;         // NOTIFY_COOKIE_LEN

// The guest's absolute timeout (NULL: none), copied first as the kernel
// does (get_timespec64, EFAULT); the host checks its range (EINVAL).
Result<const struct timespec*> copy_timeout(const MemoryManager& mm, uint64_t addr,
                                            struct timespec* out) {
  if (addr == 0) return static_cast<const struct timespec*>(nullptr);
  TRY(mm.copy_in(out, addr, sizeof *out));
  return static_cast<const struct timespec*>(out);
}

// A queue descriptor: one of elfuse's own fds is a closed one (EBADF from
// the host's fdget, at the point Linux looks the fd up).
int queue_fd(const Process& p, uint64_t reg) {
  int fd = arg_int(reg);
  return fd >= p.fds.floor ? -1 : fd;
}

}  // namespace

// mq_open(name, oflag, mode, attr): the attributes are read before the name
// (EFAULT either way), then the host creates or opens the queue.
int64_t sys_mq_open(SyscallContext& ctx, const SyscallArgs& a) {
  struct mq_attr attr {};
  if (a.a[3] != 0) {
    if (auto c = ctx.mm.copy_in(&attr, a.a[3], sizeof attr); !c) return -c.error();
  }
  auto name = copy_path(ctx.mm, a.a[0]);
  if (!name) return -name.error();
  long r = ::syscall(SYS_mq_open, name->c_str(), arg_int(a.a[1]), arg_uint(a.a[2]),
                     a.a[3] ? &attr : nullptr);
  return new_fd_result(ctx.proc, r);
}

int64_t sys_mq_unlink(SyscallContext& ctx, const SyscallArgs& a) {
  auto name = copy_path(ctx.mm, a.a[0]);
  if (!name) return -name.error();
  return host_rax(::syscall(SYS_mq_unlink, name->c_str()));
}

// mq_timedsend(mqdes, msg, len, prio, abs_timeout): the kernel checks the
// timeout, the priority, the fd and len against the queue's message size
// before it reads the message (load_msg: EFAULT). The host reads the
// guest's bytes in place when they are one host range, from a copy when
// they cross VMAs, and from a faulting page when any byte is unreadable.
int64_t sys_mq_timedsend(SyscallContext& ctx, const SyscallArgs& a) {
  struct timespec ts {};
  auto timeout = copy_timeout(ctx.mm, a.a[4], &ts);
  if (!timeout) return -timeout.error();
  uint64_t len = a.a[2];
  const void* msg = uio::fault_ptr();
  std::unique_ptr<char[]> copy;
  if (len <= kHardMsgSizeMax) {
    if (auto ranges = ctx.mm.host_ranges(a.a[1], len, PROT_READ); ranges) {
      if (ranges->size() == 1) {
        msg = (*ranges)[0].iov_base;
      } else if (ranges->empty()) {
        msg = nullptr;
      } else {
        copy.reset(new char[len]);
        if (!ctx.mm.copy_in(copy.get(), a.a[1], len)) return -EFAULT;
        msg = copy.get();
      }
    }
  }
  return host_rax(::syscall(SYS_mq_timedsend, queue_fd(ctx.proc, a.a[0]), msg, len,
                            arg_uint(a.a[3]), *timeout));
}

// mq_timedreceive(mqdes, msg, len, prio, abs_timeout): the timeout, the fd
// and len (at least the queue's message size: EMSGSIZE) are checked before
// waiting; the message is taken off the queue, then its priority is stored,
// then the message (a failure of either is EFAULT, and the message is lost,
// as on Linux). A prio pointer elfuse cannot write makes the host receive
// into a bounce that is dropped.
int64_t sys_mq_timedreceive(SyscallContext& ctx, const SyscallArgs& a) {
  struct timespec ts {};
  auto timeout = copy_timeout(ctx.mm, a.a[4], &ts);
  if (!timeout) return -timeout.error();
  int fd = queue_fd(ctx.proc, a.a[0]);
  uint64_t len = a.a[2];
  unsigned prio = 0;
  unsigned* host_prio = a.a[3] ? &prio : nullptr;
  struct mq_attr attr {};
  if (::syscall(SYS_mq_getsetattr, fd, nullptr, &attr) < 0 || len < uint64_t(attr.mq_msgsize)) {
    // Not a queue, or too small a buffer: nothing is received, and the host
    // gives the answer in the kernel's order (EINVAL for the timeout, EBADF,
    // EMSGSIZE).
    return host_rax(::syscall(SYS_mq_timedreceive, fd, uio::fault_ptr(), len, host_prio, *timeout));
  }
  // At most mq_msgsize bytes are stored: the guest's first mq_msgsize bytes
  // in place when they are one writable host range, otherwise a bounce.
  uint64_t want = static_cast<uint64_t>(attr.mq_msgsize);
  void* buf;
  std::unique_ptr<char[]> bounce;
  bool prio_ok = !host_prio || ctx.mm.host_ranges(a.a[3], sizeof prio, PROT_WRITE).ok();
  auto ranges = ctx.mm.host_ranges(a.a[1], want, PROT_WRITE);
  if (prio_ok && ranges && ranges->size() == 1) {
    buf = (*ranges)[0].iov_base;
  } else {
    bounce.reset(new char[want ? want : 1]);
    buf = bounce.get();
  }
  long r = ::syscall(SYS_mq_timedreceive, fd, buf, len, host_prio, *timeout);
  if (r < 0) return -static_cast<int64_t>(errno);
  if (host_prio && !ctx.mm.copy_out(a.a[3], &prio, sizeof prio)) return -EFAULT;
  if (bounce && !ctx.mm.copy_out(a.a[1], bounce.get(), static_cast<uint64_t>(r))) return -EFAULT;
  return r;
}

// mq_notify(mqdes, sevp). The host queue notifies the host process, which is
// the guest process: SIGEV_SIGNAL arrives as a host signal (SI_MESGQ, the
// guest's sigev_value) and is delivered to the guest like any other.
// SIGEV_THREAD is the C library's: the kernel sends the 32-byte cookie at
// sigev_value.sival_ptr over the netlink socket sigev_signo, which is a
// guest fd the library reads; the cookie is copied into host memory here
// (EFAULT) in the order do_mq_notify reads it (after the sigev_notify and
// signal checks, before the socket and the queue are looked up).
int64_t sys_mq_notify(SyscallContext& ctx, const SyscallArgs& a) {
  if (a.a[1] == 0) return host_rax(::syscall(SYS_mq_notify, queue_fd(ctx.proc, a.a[0]), nullptr));
  struct sigevent ev;
  memset(&ev, 0, sizeof ev);
  if (auto c = ctx.mm.copy_in(&ev, a.a[1], sizeof ev); !c) return -c.error();
  unsigned char cookie[kNotifyCookieLen];
  if (ev.sigev_notify == SIGEV_THREAD) {
    uint64_t guest_cookie = reinterpret_cast<uint64_t>(ev.sigev_value.sival_ptr);
    if (auto c = ctx.mm.copy_in(cookie, guest_cookie, sizeof cookie); !c) return -c.error();
    ev.sigev_value.sival_ptr = cookie;
    if (ev.sigev_signo >= ctx.proc.fds.floor) ev.sigev_signo = -1;  // a closed fd: EBADF
  }
  return host_rax(::syscall(SYS_mq_notify, queue_fd(ctx.proc, a.a[0]), &ev));
}

// mq_getsetattr(mqdes, newattr, oldattr): newattr is read first (EFAULT);
// oldattr is stored after the change, which stands even when that store
// fails.
int64_t sys_mq_getsetattr(SyscallContext& ctx, const SyscallArgs& a) {
  struct mq_attr set {
  }, old{};
  if (a.a[1] != 0) {
    if (auto c = ctx.mm.copy_in(&set, a.a[1], sizeof set); !c) return -c.error();
  }
  long r = ::syscall(SYS_mq_getsetattr, queue_fd(ctx.proc, a.a[0]), a.a[1] ? &set : nullptr,
                     a.a[2] ? &old : nullptr);
  if (r < 0) return -static_cast<int64_t>(errno);
  if (a.a[2] != 0 && !ctx.mm.copy_out(a.a[2], &old, sizeof old)) return -EFAULT;
  return 0;
}

}  // namespace elfuse
