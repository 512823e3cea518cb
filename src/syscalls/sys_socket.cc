// Socket syscalls (net/socket.c, net/core/scm.c): socket, socketpair, bind,
// listen, accept, accept4, connect, getsockname, getpeername, sendto,
// recvfrom, sendmsg, recvmsg, sendmmsg, recvmmsg, setsockopt, getsockopt,
// shutdown.
//
// Guest fds are host fds and the host kernel implements every protocol
// (AF_UNIX, AF_INET, AF_INET6, AF_NETLINK...). What elfuse adds is the
// translation of every guest pointer: structures the kernel copies in are
// copied in here (or replaced by a faulting host pointer, so the host gives
// EFAULT at the point Linux would, see uio_common.h), structures the kernel
// writes are written by the host into elfuse's memory and copied out with
// net/socket.c's rules (move_addr_to_user). Descriptors crossing a socket in
// SCM_RIGHTS are guest fds in both directions: elfuse's own fds (>= the
// floor) can never be sent, and received ones must fit the guest's limit.
#include <linux/filter.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cstring>
#include <vector>

#include "kernel/proc_mem.h"
#include "syscalls/fs_common.h"
#include "syscalls/sock_policy.h"
#include "syscalls/table.h"
#include "syscalls/uio_common.h"

namespace elfuse {

using namespace fs;

// x86_64 guest and host share every layout (include/linux/socket.h).
static_assert(sizeof(struct msghdr) == 56);
static_assert(sizeof(struct mmsghdr) == 64);
static_assert(sizeof(struct cmsghdr) == 16);
static_assert(sizeof(struct sockaddr_storage) == 128);

namespace {

constexpr uint64_t kMsgNamelenOff = offsetof(struct msghdr, msg_namelen);
constexpr uint64_t kMsgControllenOff = offsetof(struct msghdr, msg_controllen);
constexpr uint64_t kMsgFlagsOff = offsetof(struct msghdr, msg_flags);
constexpr uint64_t kMmsgLenOff = offsetof(struct mmsghdr, msg_len);
// The host control buffer for a receive: far more than any cmsg Linux
// produces (SCM_MAX_FD = 253 fds is about 1 KiB).
constexpr uint64_t kMaxRecvControl = 64 * 1024;
// sock_kmalloc refuses more than net.core.optmem_max (20 KiB or 128 KiB by
// default): ENOBUFS. Anything above this is certainly refused.
constexpr uint64_t kMaxSendControl = 1 << 20;
constexpr int kSockTypeMask = 0xf;  // include/linux/net.h SOCK_TYPE_MASK

// sockfd_lookup_light: an fd that is not open (or O_PATH) is EBADF, one
// that is not a socket ENOTSOCK. Used when elfuse fails a call before the
// host saw it, since Linux looks the socket up first.
int64_t sock_fd_error(int fd, int err) {
  long fl = ::syscall(SYS_fcntl, fd, F_GETFL);
  if (fl < 0 || (fl & O_PATH)) return -EBADF;
  struct stat st;
  if (::fstat(fd, &st) < 0) return -EBADF;
  if (!S_ISSOCK(st.st_mode)) return -ENOTSOCK;
  return -err;
}

// Where --sysroot translation of AF_UNIX path names will plug in: a bound
// or connected path socket name is a guest path (resolved, like every other
// path, relative to the guest's root and cwd). Without a sysroot the guest
// path is the host path, so the address goes to the host unchanged. Abstract
// names (sun_path[0] == 0) and other families are never paths.
void unix_addr_to_host(const Process& p, sockaddr_storage& addr, socklen_t& len) {
  (void)p;
  (void)addr;
  (void)len;
}

// move_addr_to_kernel's input side for bind/connect/sendto: the guest
// address copied into `buf`, or a faulting pointer when it cannot be read
// (the host then checks the length and faults exactly as Linux does).
// Lengths outside [1, sizeof(sockaddr_storage)] are handed to the host as
// they are: it answers EINVAL, or copies nothing for 0.
const void* addr_in(SyscallContext& ctx, uint64_t guest, int len, sockaddr_storage& buf,
                    socklen_t& hlen) {
  hlen = static_cast<socklen_t>(len);
  if (len <= 0 || len > static_cast<int>(sizeof(buf))) return guest ? uio::fault_ptr() : nullptr;
  if (!ctx.mm.copy_in(&buf, guest, static_cast<uint64_t>(len)).ok()) return uio::fault_ptr();
  unix_addr_to_host(ctx.proc, buf, hlen);
  return &buf;
}

// net/socket.c move_addr_to_user: read the guest's length, EINVAL if
// negative, copy min(length, klen) bytes of the address, then store the full
// klen ("fromlen shall refer to the value before truncation", 1003.1g).
Result<void> move_addr_to_user(SyscallContext& ctx, const sockaddr_storage& addr, int klen,
                               uint64_t uaddr, uint64_t ulen) {
  int len;
  TRY(ctx.mm.copy_in(&len, ulen, sizeof(len)));
  if (len > klen) len = klen;
  if (len < 0) return Errno{EINVAL};
  if (len > 0) TRY(ctx.mm.copy_out(uaddr, &addr, static_cast<uint64_t>(len)));
  TRY(ctx.mm.copy_out(ulen, &klen, sizeof(klen)));
  return Ok();
}

// for_each_cmsghdr over a host copy of a control buffer, with the kernel's
// __cmsg_nxthdr bounds. fn(cmsghdr*) for every header that lies inside.
template <typename Fn>
void for_each_cmsg(uint8_t* ctl, uint64_t len, Fn fn) {
  uint64_t off = 0;
  while (len >= sizeof(cmsghdr) && off <= len - sizeof(cmsghdr)) {
    auto* c = reinterpret_cast<cmsghdr*>(ctl + off);
    if (c->cmsg_len < sizeof(cmsghdr) || c->cmsg_len > len - off) return;  // !CMSG_OK
    uint64_t step = CMSG_ALIGN(c->cmsg_len);  // before fn, which may shrink it
    fn(c);
    off += step;
  }
}

// ---------------------------------------------------------------- messages

// A guest msghdr made a host one (net/socket.c copy_msghdr_from_user and
// ____sys_sendmsg's control copy).
struct HostMsg {
  msghdr h{};
  sockaddr_storage name{};
  std::vector<iovec> iov;
  std::vector<uint8_t> control;
  uint64_t total = 0;       // bytes asked for
  uint64_t guest_name = 0;  // the user's msg_name (recvmsg writes it)
  uint64_t guest_control = 0;
  uint64_t guest_controllen = 0;
};

// send: true for sendmsg (the name and control are read), false for recvmsg
// (they are written later). Errors are the ones Linux gives after the
// socket lookup.
Result<void> import_msghdr(SyscallContext& ctx, uint64_t addr, bool send, HostMsg& m) {
  msghdr u;
  TRY(ctx.mm.copy_in(&u, addr, sizeof(u)));
  // __copy_msghdr.
  int namelen = u.msg_name ? static_cast<int>(u.msg_namelen) : 0;
  if (namelen < 0) return Errno{EINVAL};
  if (namelen > static_cast<int>(sizeof(sockaddr_storage))) namelen = sizeof(sockaddr_storage);
  m.guest_name = reinterpret_cast<uint64_t>(u.msg_name);
  if (send) {
    if (u.msg_name && namelen) {
      TRY(ctx.mm.copy_in(&m.name, m.guest_name, static_cast<uint64_t>(namelen)));
      socklen_t hl = static_cast<socklen_t>(namelen);
      unix_addr_to_host(ctx.proc, m.name, hl);
      m.h.msg_name = &m.name;
      m.h.msg_namelen = hl;
    }
  } else if (u.msg_name) {
    // ____sys_recvmsg: the protocol fills a kernel sockaddr_storage.
    m.h.msg_name = &m.name;
    m.h.msg_namelen = sizeof(m.name);
  }
  if (u.msg_iovlen > kIovMax) return Errno{EMSGSIZE};
  m.iov = TRY(uio::import_iovec(ctx.mm, reinterpret_cast<uint64_t>(u.msg_iov), u.msg_iovlen,
                                send ? PROT_READ : PROT_WRITE, &m.total));
  m.h.msg_iov = m.iov.data();
  m.h.msg_iovlen = m.iov.size();
  m.h.msg_flags = u.msg_flags;  // sendmsg takes MSG_EOR from here
  m.guest_control = reinterpret_cast<uint64_t>(u.msg_control);
  m.guest_controllen = u.msg_controllen;
  if (send) {
    // ____sys_sendmsg: more than INT_MAX, or more than sock_kmalloc gives,
    // is ENOBUFS; then the whole buffer is copied in (EFAULT).
    if (u.msg_controllen > INT32_MAX || u.msg_controllen > kMaxSendControl) return Errno{ENOBUFS};
    if (u.msg_controllen > 0) {
      m.control.resize(u.msg_controllen);
      TRY(ctx.mm.copy_in(m.control.data(), m.guest_control, u.msg_controllen));
      // SCM_RIGHTS carries guest fds: elfuse's own are not the guest's to
      // send. -1 makes the host's scm_fp_copy fail with EBADF at exactly
      // that fd, after the checks Linux makes before it (net/core/scm.c).
      int floor = ctx.proc.fds.floor;
      for_each_cmsg(m.control.data(), m.control.size(), [&](cmsghdr* c) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) return;
        int n = static_cast<int>((c->cmsg_len - sizeof(cmsghdr)) / sizeof(int));
        auto* fds = reinterpret_cast<int*>(CMSG_DATA(c));
        for (int i = 0; i < n; i++) {
          int fd;
          std::memcpy(&fd, fds + i, sizeof(fd));
          if (fd >= floor) {
            fd = -1;
            std::memcpy(fds + i, &fd, sizeof(fd));
          }
        }
      });
      m.h.msg_control = m.control.data();
      m.h.msg_controllen = m.control.size();
    }
  } else {
    // The host writes cmsgs into elfuse's buffer, bounded by the guest's
    // msg_controllen (put_cmsg and scm_detach_fds truncate to it and set
    // MSG_CTRUNC). A NULL msg_control stays NULL: the host then sets
    // MSG_CTRUNC itself when it had something to say (scm_recv).
    if (u.msg_control) {
      m.control.resize(std::min<uint64_t>(u.msg_controllen, kMaxRecvControl));
      m.h.msg_control = m.control.data();
    }
    m.h.msg_controllen = m.control.size();
  }
  return Ok();
}

int64_t do_sendmsg(SyscallContext& ctx, int fd, uint64_t msg, int flags, uint64_t* total) {
  HostMsg m;
  if (auto r = import_msghdr(ctx, msg, /*send=*/true, m); !r.ok())
    return sock_fd_error(fd, r.error());
  if (total) *total = m.total;
  return host_rax(::sendmsg(fd, &m.h, flags));
}

// Received SCM_RIGHTS fds are the guest's new fds. One at or above the
// guest's limit would have failed get_unused_fd_flags in scm_detach_fds:
// Linux then stops installing, keeps the fds installed so far in the cmsg
// and sets MSG_CTRUNC. Rebuild the control data the same way.
uint64_t fit_received_fds(Process& p, std::vector<uint8_t>& ctl, uint64_t used, int* msg_flags) {
  uint64_t limit = fd_limit(p);
  std::vector<uint8_t> out;
  out.reserve(used);
  bool full = false;  // an fd did not fit: no more are installed
  for_each_cmsg(ctl.data(), used, [&](cmsghdr* c) {
    uint64_t keep = c->cmsg_len;
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
      int n = static_cast<int>((c->cmsg_len - sizeof(cmsghdr)) / sizeof(int));
      auto* fds = reinterpret_cast<int*>(CMSG_DATA(c));
      int ok = 0;
      for (int i = 0; i < n; i++) {
        int fd;
        std::memcpy(&fd, fds + i, sizeof(fd));
        if (!full && fd >= 0 && static_cast<uint64_t>(fd) < limit) {
          ok++;
          // Another process's mem file reaches memory elfuse cannot
          // (kernel/proc_mem.h).
          proc_mem_adopt(p, fd);
        } else {
          full = true;
          if (fd >= 0) ::close(fd);
        }
      }
      if (ok < n) {
        *msg_flags |= MSG_CTRUNC;
        if (ok == 0) return;  // scm_detach_fds writes no header for none
        c->cmsg_len = CMSG_LEN(ok * sizeof(int));
        keep = c->cmsg_len;
      }
    }
    uint64_t start = out.size();
    out.resize(start + CMSG_ALIGN(keep), 0);
    std::memcpy(out.data() + start, c, keep);
  });
  // The last cmsg's padding counts only as far as the buffer had room
  // (put_cmsg: cmlen capped at msg_controllen).
  uint64_t n = std::min<uint64_t>(out.size(), used);
  std::memcpy(ctl.data(), out.data(), n);
  return n;
}

// Closes every fd of the SCM_RIGHTS cmsgs in ctl[0, used).
void close_received_fds(std::vector<uint8_t>& ctl, uint64_t used) {
  for_each_cmsg(ctl.data(), used, [&](cmsghdr* c) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) return;
    int n = static_cast<int>((c->cmsg_len - sizeof(cmsghdr)) / sizeof(int));
    for (int i = 0; i < n; i++) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(fd));
      if (fd >= 0) ::close(fd);
    }
  });
}

// ___sys_recvmsg on a guest msghdr at `msg`.
int64_t do_recvmsg(SyscallContext& ctx, int fd, uint64_t msg, int flags, int* out_flags) {
  HostMsg m;
  if (auto r = import_msghdr(ctx, msg, /*send=*/false, m); !r.ok())
    return sock_fd_error(fd, r.error());
  long got = ::recvmsg(fd, &m.h, flags);
  if (got < 0) return -errno;
  int mflags = m.h.msg_flags;
  uint64_t used = m.h.msg_control ? m.h.msg_controllen : 0;
  if (used > 0) used = fit_received_fds(ctx.proc, m.control, used, &mflags);
  // The kernel writes the cmsgs straight into the guest's buffer; when it
  // cannot, put_cmsg drops them and receive_fd_user does not install the
  // fds (they are closed), and the cut shows as MSG_CTRUNC.
  if (used > 0 && !ctx.mm.copy_out(m.guest_control, m.control.data(), used).ok()) {
    bool had_fds = false;
    for_each_cmsg(m.control.data(), used, [&](cmsghdr* c) {
      if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) had_fds = true;
    });
    close_received_fds(m.control, used);
    if (had_fds) mflags |= MSG_CTRUNC;
    used = 0;
  }
  if (m.guest_name) {
    auto r = move_addr_to_user(ctx, m.name, static_cast<int>(m.h.msg_namelen), m.guest_name,
                               msg + kMsgNamelenOff);
    if (!r.ok()) {
      close_received_fds(m.control, used);
      return -r.error();
    }
  }
  if (!ctx.mm.copy_out(msg + kMsgFlagsOff, &mflags, sizeof(mflags)).ok()) return -EFAULT;
  uint64_t cl = used;
  if (!ctx.mm.copy_out(msg + kMsgControllenOff, &cl, sizeof(cl)).ok()) return -EFAULT;
  if (out_flags) *out_flags = mflags;
  return got;
}

// A single guest buffer (sendto/recvfrom) as host iovecs: import_ubuf
// clamps to MAX_RW_COUNT and checks access_ok before the socket lookup.
Result<std::vector<iovec>> import_ubuf(const MemoryManager& mm, uint64_t buf, uint64_t len,
                                       int prot) {
  len = std::min(len, kMaxRwCount);
  if (!linux_access_ok(buf, len)) return Errno{EFAULT};
  std::vector<iovec> v;
  uio::append_ranges(mm, buf, len, prot, v);
  if (v.size() > kIovMax) v.resize(kIovMax);
  return v;
}

int64_t do_accept(SyscallContext& ctx, const SyscallArgs& a, int flags) {
  // __sys_accept4: flags first, then the socket.
  if (flags & ~(SOCK_CLOEXEC | SOCK_NONBLOCK)) return -EINVAL;
  auto fd = guest_fd(ctx.proc, a.a[0]);
  if (!fd) return -fd.error();
  uint64_t uaddr = a.a[1], ulen = a.a[2];
  sockaddr_storage addr{};
  socklen_t hlen = sizeof(addr);
  long r = ::accept4(*fd, uaddr ? reinterpret_cast<sockaddr*>(&addr) : nullptr,
                     uaddr ? &hlen : nullptr, flags);
  int64_t nfd = new_fd_result(ctx.proc, r);
  if (nfd < 0 || !uaddr) return nfd;
  // The peer address is written after the accept; a failure there drops
  // the new connection (the fd is never installed).
  if (auto w = move_addr_to_user(ctx, addr, static_cast<int>(hlen), uaddr, ulen); !w.ok()) {
    ::close(static_cast<int>(nfd));
    return -w.error();
  }
  return nfd;
}

// getsockname / getpeername: the address is asked for first, the guest's
// length is read when it is written back.
int64_t do_getname(SyscallContext& ctx, const SyscallArgs& a, bool peer) {
  auto fd = guest_fd(ctx.proc, a.a[0]);
  if (!fd) return -fd.error();
  sockaddr_storage addr{};
  socklen_t hlen = sizeof(addr);
  long r = peer ? ::getpeername(*fd, reinterpret_cast<sockaddr*>(&addr), &hlen)
                : ::getsockname(*fd, reinterpret_cast<sockaddr*>(&addr), &hlen);
  if (r < 0) return -errno;
  // --sysroot: a path name here would be turned back into the guest's path.
  return to_rax(move_addr_to_user(ctx, addr, static_cast<int>(hlen), a.a[1], a.a[2]));
}

}  // namespace

// A family elfuse has not reviewed (syscalls/sock_policy.h) answers as a
// kernel built without it: __sys_socket's flag check (EINVAL), then
// __sock_create's family range (EAFNOSUPPORT), type range (EINVAL), and no
// registered family (EAFNOSUPPORT).
static int64_t unreviewed_family_error(int family, int type) {
  constexpr int kAfMax = 46;    // include/linux/socket.h AF_MAX
  constexpr int kSockMax = 11;  // include/linux/net.h SOCK_MAX
  if (type & ~(kSockTypeMask | SOCK_CLOEXEC | SOCK_NONBLOCK)) return -EINVAL;
  if (family < 0 || family >= kAfMax) return -EAFNOSUPPORT;
  if ((type & kSockTypeMask) >= kSockMax) return -EINVAL;
  return -EAFNOSUPPORT;
}

int64_t sys_socket(SyscallContext& ctx, const SyscallArgs& a) {
  int family = arg_int(a.a[0]), type = arg_int(a.a[1]);
  if (!socket_family_reviewed(family)) return unreviewed_family_error(family, type);
  return new_fd_result(ctx.proc, ::socket(family, type, arg_int(a.a[2])));
}

// __sys_socketpair: flags are checked, both fds reserved and stored to the
// guest before the sockets are created, so a bad pointer is EFAULT ahead of
// the protocol's errors, and no fd leaks on any failure.
int64_t sys_socketpair(SyscallContext& ctx, const SyscallArgs& a) {
  int type = arg_int(a.a[1]);
  if (type & ~(kSockTypeMask | SOCK_CLOEXEC | SOCK_NONBLOCK)) return -EINVAL;
  if (!socket_family_reviewed(arg_int(a.a[0])))
    return unreviewed_family_error(arg_int(a.a[0]), type);
  int sv[2];
  if (::socketpair(arg_int(a.a[0]), type, arg_int(a.a[2]), sv) < 0) {
    int e = errno;
    if (e != EMFILE && e != ENFILE && !ctx.mm.host_ranges(a.a[3], sizeof(sv), PROT_WRITE).ok())
      return -EFAULT;
    return -e;
  }
  uint64_t limit = fd_limit(ctx.proc);
  int64_t err = 0;
  if (static_cast<uint64_t>(sv[0]) >= limit || static_cast<uint64_t>(sv[1]) >= limit)
    err = -EMFILE;
  else if (!ctx.mm.copy_out(a.a[3], sv, sizeof(sv)).ok())
    err = -EFAULT;
  if (err) {
    ::close(sv[0]);
    ::close(sv[1]);
  }
  return err;
}

// bind and connect: (fd, address, length), the address copied in.
static int64_t fd_and_addr_call(SyscallContext& ctx, const SyscallArgs& a, long nr) {
  auto fd = guest_fd(ctx.proc, a.a[0]);
  if (!fd) return -fd.error();
  sockaddr_storage buf;
  socklen_t hlen;
  const void* p = addr_in(ctx, a.a[1], arg_int(a.a[2]), buf, hlen);
  return host_rax(::syscall(nr, *fd, p, hlen));
}

int64_t sys_bind(SyscallContext& ctx, const SyscallArgs& a) {
  return fd_and_addr_call(ctx, a, SYS_bind);
}

int64_t sys_connect(SyscallContext& ctx, const SyscallArgs& a) {
  return fd_and_addr_call(ctx, a, SYS_connect);
}

int64_t sys_listen(SyscallContext& ctx, const SyscallArgs& a) {
  auto fd = guest_fd(ctx.proc, a.a[0]);
  if (!fd) return -fd.error();
  return host_rax(::listen(*fd, arg_int(a.a[1])));
}

int64_t sys_shutdown(SyscallContext& ctx, const SyscallArgs& a) {
  auto fd = guest_fd(ctx.proc, a.a[0]);
  if (!fd) return -fd.error();
  return host_rax(::shutdown(*fd, arg_int(a.a[1])));
}

int64_t sys_accept(SyscallContext& ctx, const SyscallArgs& a) {
  return do_accept(ctx, a, 0);
}

int64_t sys_accept4(SyscallContext& ctx, const SyscallArgs& a) {
  return do_accept(ctx, a, arg_int(a.a[3]));
}

int64_t sys_getsockname(SyscallContext& ctx, const SyscallArgs& a) {
  return do_getname(ctx, a, false);
}

int64_t sys_getpeername(SyscallContext& ctx, const SyscallArgs& a) {
  return do_getname(ctx, a, true);
}

// __sys_sendto: the buffer's access_ok, the socket, then the address
// (move_addr_to_kernel: EINVAL outside [0, sizeof(sockaddr_storage)], EFAULT).
int64_t sys_sendto(SyscallContext& ctx, const SyscallArgs& a) {
  auto iov = import_ubuf(ctx.mm, a.a[1], a.a[2], PROT_READ);
  if (!iov) return -iov.error();
  auto fd = guest_fd(ctx.proc, a.a[0]);
  if (!fd) return -fd.error();
  int flags = arg_int(a.a[3]);
  if (iov->size() <= 1) {
    // One host range: the host's own sendto, so every address rule
    // (EINVAL, EFAULT, a zero length given to the protocol) is Linux's.
    sockaddr_storage buf;
    socklen_t hlen = 0;
    const void* p = a.a[4] ? addr_in(ctx, a.a[4], arg_int(a.a[5]), buf, hlen) : nullptr;
    if (a.a[4] && p == nullptr) p = &buf;  // a zero-length address is still an address
    void* base = iov->empty() ? nullptr : (*iov)[0].iov_base;
    size_t len = iov->empty() ? 0 : (*iov)[0].iov_len;
    return host_rax(::syscall(SYS_sendto, *fd, base, len, flags, p, hlen));
  }
  // The buffer crosses VMAs: sendmsg with the same address.
  msghdr h{};
  h.msg_iov = iov->data();
  h.msg_iovlen = iov->size();
  sockaddr_storage addr;
  if (a.a[4]) {
    int len = arg_int(a.a[5]);
    if (len < 0 || len > static_cast<int>(sizeof(addr))) return sock_fd_error(*fd, EINVAL);
    if (len > 0 && !ctx.mm.copy_in(&addr, a.a[4], static_cast<uint64_t>(len)).ok())
      return sock_fd_error(*fd, EFAULT);
    socklen_t hl = static_cast<socklen_t>(len);
    if (len > 0) unix_addr_to_host(ctx.proc, addr, hl);
    h.msg_name = &addr;
    h.msg_namelen = hl;
  }
  return host_rax(::sendmsg(*fd, &h, flags));
}

// __sys_recvfrom: the buffer's access_ok, the socket, the receive, then the
// source address (move_addr_to_user, after the data is consumed).
int64_t sys_recvfrom(SyscallContext& ctx, const SyscallArgs& a) {
  auto iov = import_ubuf(ctx.mm, a.a[1], a.a[2], PROT_WRITE);
  if (!iov) return -iov.error();
  auto fd = guest_fd(ctx.proc, a.a[0]);
  if (!fd) return -fd.error();
  msghdr h{};
  h.msg_iov = iov->data();
  h.msg_iovlen = iov->size();
  sockaddr_storage addr{};
  if (a.a[4]) {
    h.msg_name = &addr;
    h.msg_namelen = sizeof(addr);
  }
  long got = ::recvmsg(*fd, &h, arg_int(a.a[3]));
  if (got < 0) return -errno;
  if (a.a[4]) {
    auto r = move_addr_to_user(ctx, addr, static_cast<int>(h.msg_namelen), a.a[4], a.a[5]);
    if (!r.ok()) return -r.error();
  }
  return got;
}

int64_t sys_sendmsg(SyscallContext& ctx, const SyscallArgs& a) {
  auto fd = guest_fd(ctx.proc, a.a[0]);
  if (!fd) return -fd.error();
  return do_sendmsg(ctx, *fd, a.a[1], arg_int(a.a[2]), nullptr);
}

int64_t sys_recvmsg(SyscallContext& ctx, const SyscallArgs& a) {
  auto fd = guest_fd(ctx.proc, a.a[0]);
  if (!fd) return -fd.error();
  return do_recvmsg(ctx, *fd, a.a[1], arg_int(a.a[2]), nullptr);
}

// __sys_sendmmsg: vlen is capped at UIO_MAXIOV; each message is a sendmsg
// whose byte count is stored in msg_len; a failure or a short send ends the
// batch; the count of messages sent wins over a later error.
int64_t sys_sendmmsg(SyscallContext& ctx, const SyscallArgs& a) {
  auto fd = guest_fd(ctx.proc, a.a[0]);
  if (!fd) return -fd.error();
  int64_t check = sock_fd_error(*fd, 0);
  if (check) return check;
  uint64_t vlen = std::min<uint64_t>(arg_uint(a.a[2]), kIovMax);
  int flags = arg_int(a.a[3]);
  uint64_t sent = 0;
  int64_t err = 0;
  for (; sent < vlen; sent++) {
    uint64_t entry = a.a[1] + sent * sizeof(mmsghdr);
    uint64_t total = 0;
    // MSG_BATCH on all but the last, as the kernel does.
    int64_t r = do_sendmsg(ctx, *fd, entry, sent + 1 < vlen ? flags | MSG_BATCH : flags, &total);
    if (r < 0) {
      err = r;
      break;
    }
    unsigned len = static_cast<unsigned>(r);
    if (!ctx.mm.copy_out(entry + kMmsgLenOff, &len, sizeof(len)).ok()) {
      err = -EFAULT;
      break;
    }
    if (static_cast<uint64_t>(r) < total) {  // msg_data_left
      sent++;
      break;
    }
  }
  return sent ? static_cast<int64_t>(sent) : err;
}

// __sys_recvmmsg / do_recvmmsg: the timeout is read (EFAULT) and validated
// (EINVAL) first and is checked only between messages, as Linux does; the
// time left is written back when messages were received.
int64_t sys_recvmmsg(SyscallContext& ctx, const SyscallArgs& a) {
  uint64_t tp = a.a[4];
  timespec timeout{}, end{};
  if (tp) {
    if (!ctx.mm.copy_in(&timeout, tp, sizeof(timeout)).ok()) return -EFAULT;
    // poll_select_set_timeout: a negative or non-normalized time is EINVAL.
    if (timeout.tv_sec < 0 || timeout.tv_nsec < 0 || timeout.tv_nsec >= 1000000000) return -EINVAL;
    ::clock_gettime(CLOCK_MONOTONIC, &end);
    end.tv_sec += timeout.tv_sec;
    end.tv_nsec += timeout.tv_nsec;
    if (end.tv_nsec >= 1000000000) {
      end.tv_sec++;
      end.tv_nsec -= 1000000000;
    }
  }
  auto fd = guest_fd(ctx.proc, a.a[0]);
  if (!fd) return -fd.error();
  int64_t check = sock_fd_error(*fd, 0);
  if (check) return check;
  uint64_t vlen = arg_uint(a.a[2]);
  int flags = arg_int(a.a[3]);
  // A pending socket error ends the call before any message (sock_error).
  if (!(flags & MSG_ERRQUEUE)) {
    int soerr = 0;
    socklen_t sl = sizeof(soerr);
    if (::getsockopt(*fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 && soerr) return -soerr;
  }
  uint64_t got = 0;
  int64_t err = 0;
  while (got < vlen) {
    uint64_t entry = a.a[1] + got * sizeof(mmsghdr);
    int mflags = 0;
    int64_t r = do_recvmsg(ctx, *fd, entry, flags & ~MSG_WAITFORONE, &mflags);
    if (r < 0) {
      err = r;
      break;
    }
    unsigned len = static_cast<unsigned>(r);
    if (!ctx.mm.copy_out(entry + kMmsgLenOff, &len, sizeof(len)).ok()) {
      err = -EFAULT;
      break;
    }
    got++;
    if (flags & MSG_WAITFORONE) flags |= MSG_DONTWAIT;
    if (tp) {
      timespec now;
      ::clock_gettime(CLOCK_MONOTONIC, &now);
      timeout.tv_sec = end.tv_sec - now.tv_sec;
      timeout.tv_nsec = end.tv_nsec - now.tv_nsec;
      if (timeout.tv_nsec < 0) {
        timeout.tv_sec--;
        timeout.tv_nsec += 1000000000;
      }
      if (timeout.tv_sec < 0) {
        timeout = {};
        break;
      }
      if (timeout.tv_sec == 0 && timeout.tv_nsec == 0) break;
    }
    if (mflags & MSG_OOB) break;
  }
  // Linux records an error after some messages in sk_err for the next
  // call; elfuse cannot set a host socket's sk_err, so that error is lost.
  if (got == 0 && err) return err;
  if (tp && got > 0 && !ctx.mm.copy_out(tp, &timeout, sizeof(timeout)).ok()) return -EFAULT;
  return static_cast<int64_t>(got);
}

// The guest's struct sock_fprog at `value` (optlen bytes, already known to
// be sizeof(sock_fprog) and readable as `prog`) with its program copied into
// `insns`: the host reads elfuse's copy, never an address of the guest's.
// The host keeps its own order of checks (a locked filter: EPERM; no program,
// none or more than BPF_MAXINSNS instructions: EINVAL; an unreadable program:
// EFAULT), so the address is replaced by one that fails the same way.
static sock_fprog host_filter_program(SyscallContext& ctx, const sock_fprog& prog,
                                      std::vector<sock_filter>& insns) {
  sock_fprog host{prog.len, nullptr};
  if (!prog.filter) return host;
  uint64_t addr = reinterpret_cast<uint64_t>(prog.filter);
  if (prog.len == 0 || prog.len > BPF_MAXINSNS) {
    host.filter = static_cast<sock_filter*>(uio::fault_ptr());
    return host;
  }
  insns.resize(prog.len);
  if (ctx.mm.copy_in(insns.data(), addr, prog.len * sizeof(sock_filter)).ok())
    host.filter = insns.data();
  else
    host.filter = static_cast<sock_filter*>(uio::fault_ptr());
  return host;
}

// __sys_setsockopt: a negative optlen is EINVAL before the socket lookup.
// The option value goes to the host as a copy; when the guest cannot read
// all optlen bytes, a faulting pointer lets the host fail where its handler
// copies (options read no more than they need; a value shorter than optlen
// that is readable still works natively but is EFAULT here). Values that
// hold an address or a descriptor, and the host firewall's options, follow
// sockopt_route (syscalls/sock_policy.h).
int64_t sys_setsockopt(SyscallContext& ctx, const SyscallArgs& a) {
  int optlen = arg_int(a.a[4]);
  if (optlen < 0) return -EINVAL;
  auto fd = guest_fd(ctx.proc, a.a[0]);
  if (!fd) return -fd.error();
  int level = arg_int(a.a[1]), optname = arg_int(a.a[2]);
  std::vector<uint8_t> buf(static_cast<size_t>(std::min(optlen, 1 << 20)));
  const void* p = nullptr;
  if (a.a[3]) {
    bool readable = static_cast<size_t>(optlen) <= buf.size() &&
                    ctx.mm.copy_in(buf.data(), a.a[3], static_cast<uint64_t>(optlen)).ok();
    p = readable ? buf.data() : uio::fault_ptr();
  }
  const bool copied = p == buf.data() && p;
  // The family matters only below SOL_SOCKET (sockopt_route); it stays -1
  // for a descriptor that is not a socket, which the host then refuses.
  int family = -1;
  socklen_t flen = sizeof family;
  if (level != SOL_SOCKET) ::getsockopt(*fd, SOL_SOCKET, SO_DOMAIN, &family, &flen);
  SockoptRoute route = sockopt_route(family, level, optname);
  if (route == SockoptRoute::kRefused) return sock_fd_error(*fd, EPERM);
  if (route == SockoptRoute::kFilterOrBpfFd)
    route = optlen == sizeof(sock_fprog) ? SockoptRoute::kFilterProgram : SockoptRoute::kBpfFd;
  sock_fprog host_prog;
  std::vector<sock_filter> insns;
  if (route == SockoptRoute::kFilterProgram && copied && optlen == sizeof(sock_fprog)) {
    sock_fprog prog;
    std::memcpy(&prog, buf.data(), sizeof prog);
    host_prog = host_filter_program(ctx, prog, insns);
    p = &host_prog;
  } else if (route == SockoptRoute::kBpfFd && copied && optlen >= static_cast<int>(sizeof(int))) {
    // The program's descriptor is a guest fd: elfuse's own are not open.
    int prog_fd;
    std::memcpy(&prog_fd, buf.data(), sizeof prog_fd);
    if (prog_fd >= ctx.proc.fds.floor) {
      prog_fd = -1;
      std::memcpy(buf.data(), &prog_fd, sizeof prog_fd);
    }
  }
  return host_rax(::syscall(SYS_setsockopt, *fd, level, optname, p, optlen));
}

// getsockopt: optlen is read after the socket lookup (EFAULT), the host
// fills elfuse's buffer of that length and says how much it wrote; that
// many bytes and the length go back (sk_getsockopt: copy_to_sockptr of
// min(len, size), then the length). A negative length goes to the host,
// which answers as Linux does for that level. Options that report a needed
// length with an error (SO_PEERGROUPS: ERANGE) write it back too.
// SO_GET_FILTER counts in instructions, not bytes (sk_get_filter: a length
// below the program's instruction count is EINVAL, else the whole program,
// 8 bytes an instruction, and the count as the length): elfuse's buffer is
// sized in instructions too, for at most BPF_MAXINSNS of them.
int64_t sys_getsockopt(SyscallContext& ctx, const SyscallArgs& a) {
  auto fd = guest_fd(ctx.proc, a.a[0]);
  if (!fd) return -fd.error();
  int level = arg_int(a.a[1]), optname = arg_int(a.a[2]);
  uint64_t uval = a.a[3], ulen = a.a[4];
  int len;
  if (!ctx.mm.copy_in(&len, ulen, sizeof(len)).ok()) return sock_fd_error(*fd, EFAULT);
  bool in_instructions = level == SOL_SOCKET && optname == SO_GET_FILTER;
  size_t unit = in_instructions ? sizeof(sock_filter) : 1;
  int max_units = in_instructions ? BPF_MAXINSNS : 1 << 20;
  socklen_t hlen = static_cast<socklen_t>(len);
  std::vector<uint8_t> buf(len > 0 ? static_cast<size_t>(std::min(len, max_units)) * unit : 0);
  if (len > 0) hlen = static_cast<socklen_t>(buf.size() / unit);
  void* p = uval ? (buf.empty() ? nullptr : buf.data()) : nullptr;
  if (uval && buf.empty()) p = uio::fault_ptr();  // nothing to write, unless the handler does
  long r = ::syscall(SYS_getsockopt, *fd, level, optname, p, &hlen);
  int e = errno;
  int out = static_cast<int>(hlen);
  if (r < 0) {
    if (out != len && out >= 0 && !ctx.mm.copy_out(ulen, &out, sizeof(out)).ok()) return -EFAULT;
    return -e;
  }
  if (out > 0) {
    uint64_t n = std::min<uint64_t>(static_cast<uint64_t>(out) * unit, buf.size());
    if (n > 0 && !ctx.mm.copy_out(uval, buf.data(), n).ok()) return -EFAULT;
  }
  if (!ctx.mm.copy_out(ulen, &out, sizeof(out)).ok()) return -EFAULT;
  return 0;
}

}  // namespace elfuse
