// Descriptor syscalls: dup family, pipe, fcntl, ioctl. Every fd argument at
// or above the floor looks closed, and every fd created for the guest stays
// below min(floor, virtual RLIMIT_NOFILE) (FdRules in kernel/process.h).
#include <fcntl.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "syscalls/fs_common.h"
#include "syscalls/table.h"
#include "syscalls/uaccess.h"

namespace elfuse {

using namespace fs;

namespace {

// fcntl commands newer than some libc headers (include/uapi/linux/fcntl.h).
constexpr unsigned kFDupfdQuery = 1024 + 3;  // F_DUPFD_QUERY, Linux 6.10
constexpr unsigned kFGetRwHint = 1024 + 11;
constexpr unsigned kFSetRwHint = 1024 + 12;

// The kernel's struct termios and termios2 (include/uapi/asm-generic/
// termbits.h); glibc's struct termios is a different, larger type.
constexpr uint32_t kTermiosSize = 36;
constexpr uint32_t kTermios2Size = 44;
// _IOR/_IOW('T', 0x2A..0x2D, struct termios2) and FIGETBSZ (_IO(0, 2)),
// spelled out because glibc's headers do not declare struct termios2.
constexpr unsigned long kTcgets2 = 0x802c542a;
constexpr unsigned long kTcsets2 = 0x402c542b;
constexpr unsigned long kTcsetsw2 = 0x402c542c;
constexpr unsigned long kTcsetsf2 = 0x402c542d;
constexpr unsigned long kFigetbsz = 2;
// include/uapi/linux/vm_sockets.h: _IO(7, 0xb9), yet it writes a u32 through
// the argument.
constexpr unsigned long kVmSocketsGetLocalCid = 0x7b9;
// include/uapi/linux/if.h struct ifreq, struct ifconf.
constexpr uint32_t kIfreqSize = 40;
struct GuestIfconf {
  int32_t len;
  int32_t pad;
  uint64_t buf;
};
static_assert(sizeof(GuestIfconf) == 16);

int64_t do_dup3(SyscallContext& ctx, int oldfd, unsigned newfd, unsigned flags, bool is_dup2) {
  if (!is_dup2) {
    // fs/file.c ksys_dup3: flags, then oldfd == newfd, both EINVAL.
    if (flags & ~static_cast<unsigned>(O_CLOEXEC)) return -EINVAL;
    if (static_cast<unsigned>(oldfd) == newfd) return -EINVAL;
  }
  // fs/file.c dup2: oldfd == newfd only checks oldfd, before any limit.
  if (is_dup2 && static_cast<unsigned>(oldfd) == newfd) {
    if (!ctx.proc.fds.guest_fd(oldfd)) return -EBADF;
    return host_rax(::syscall(SYS_dup2, oldfd, newfd));
  }
  // newfd beyond RLIMIT_NOFILE is EBADF; elfuse's fds lie beyond it.
  if (newfd >= fd_limit(ctx.proc)) return -EBADF;
  if (!ctx.proc.fds.guest_fd(oldfd)) return -EBADF;
  if (is_dup2) return host_rax(::syscall(SYS_dup2, oldfd, newfd));
  return host_rax(::syscall(SYS_dup3, oldfd, newfd, flags));
}

int64_t do_pipe2(SyscallContext& ctx, Out<FdPair> out, int flags) {
  int fds[2];
  if (::syscall(SYS_pipe2, fds, flags) < 0) return -static_cast<int64_t>(errno);
  uint64_t lim = fd_limit(ctx.proc);
  if (static_cast<uint64_t>(fds[0]) >= lim || static_cast<uint64_t>(fds[1]) >= lim) {
    ::close(fds[0]);
    ::close(fds[1]);
    return -EMFILE;
  }
  // fs/pipe.c do_pipe2: a failed copy_to_user closes both ends.
  auto r = out.put(ctx.mm, FdPair{{fds[0], fds[1]}});
  if (!r) {
    ::close(fds[0]);
    ::close(fds[1]);
    return -r.error();
  }
  return 0;
}

// fcntl commands whose argument is a pointer to a struct of `size` bytes,
// read (in), written (out) or both.
int64_t fcntl_struct(SyscallContext& ctx, int fd, unsigned cmd, Bytes addr, size_t size, bool in,
                     bool out) {
  alignas(8) unsigned char buf[32] = {};
  if (in) {
    // An unreadable struct: the host's answer for one (EFAULT, or EBADF
    // for an O_PATH fd, which do_fcntl refuses before reading it).
    if (!addr.get(ctx.mm, buf, size)) return host_rax(::syscall(SYS_fcntl, fd, cmd, nullptr));
  }
  long ret = ::syscall(SYS_fcntl, fd, cmd, buf);
  if (ret < 0) return -static_cast<int64_t>(errno);
  if (out) {
    auto r = addr.put(ctx.mm, buf, size);
    if (!r) return -r.error();
  }
  return ret;
}

// kInOut: the struct is read, handed to the host, and written back (struct
// ifreq requests: net/socket.c get_user_ifreq, put_user_ifreq). kIfconf:
// SIOCGIFCONF, whose struct holds a pointer (see ifconf()).
enum class IoDir { kNoArg, kValue, kIn, kOut, kInOut, kNewFd, kIfconf };
struct IoctlSpec {
  unsigned long req;
  IoDir dir;
  uint32_t size;
};

// Requests elfuse understands well enough to translate: terminal control
// (tty_ioctl(4)) and generic fd requests (ioctl_list(2), fs/ioctl.c).
constexpr IoctlSpec kIoctls[] = {
    {TCGETS, IoDir::kOut, kTermiosSize},
    {TCSETS, IoDir::kIn, kTermiosSize},
    {TCSETSW, IoDir::kIn, kTermiosSize},
    {TCSETSF, IoDir::kIn, kTermiosSize},
    {kTcgets2, IoDir::kOut, kTermios2Size},
    {kTcsets2, IoDir::kIn, kTermios2Size},
    {kTcsetsw2, IoDir::kIn, kTermios2Size},
    {kTcsetsf2, IoDir::kIn, kTermios2Size},
    {TIOCGWINSZ, IoDir::kOut, sizeof(struct winsize)},
    {TIOCSWINSZ, IoDir::kIn, sizeof(struct winsize)},
    {TIOCGPGRP, IoDir::kOut, 4},
    {TIOCSPGRP, IoDir::kIn, 4},
    {TIOCGSID, IoDir::kOut, 4},
    {TIOCOUTQ, IoDir::kOut, 4},
    {TIOCGETD, IoDir::kOut, 4},
    {TIOCSETD, IoDir::kIn, 4},
    {TIOCMGET, IoDir::kOut, 4},
    {TIOCMSET, IoDir::kIn, 4},
    {TIOCMBIS, IoDir::kIn, 4},
    {TIOCMBIC, IoDir::kIn, 4},
    {TIOCGPTN, IoDir::kOut, 4},
    {TIOCSPTLCK, IoDir::kIn, 4},
    {TIOCGPTLCK, IoDir::kOut, 4},
    {TIOCGEXCL, IoDir::kOut, 4},
    {TIOCSTI, IoDir::kIn, 1},
    {TIOCSCTTY, IoDir::kValue, 0},
    {TIOCNOTTY, IoDir::kNoArg, 0},
    {TIOCEXCL, IoDir::kNoArg, 0},
    {TIOCNXCL, IoDir::kNoArg, 0},
    {TCSBRK, IoDir::kValue, 0},
    {TCSBRKP, IoDir::kValue, 0},
    {TCXONC, IoDir::kValue, 0},
    {TCFLSH, IoDir::kValue, 0},
    {TIOCGPTPEER, IoDir::kNewFd, 0},
    {TIOCPKT, IoDir::kIn, 4},  // a pty master's packet mode
    {TIOCGPKT, IoDir::kOut, 4},
    {FIONREAD, IoDir::kOut, 4},
    {FIONBIO, IoDir::kIn, 4},
    {FIOASYNC, IoDir::kIn, 4},
    {FIOCLEX, IoDir::kNoArg, 0},
    {FIONCLEX, IoDir::kNoArg, 0},
    {FIOQSIZE, IoDir::kOut, 8},
    {kFigetbsz, IoDir::kOut, 4},
    // A socket's owner for SIGIO and SIGURG (net/socket.c sock_ioctl, as
    // F_SETOWN/F_GETOWN): guest pids are host pids.
    {FIOSETOWN, IoDir::kIn, 4},
    {SIOCSPGRP, IoDir::kIn, 4},
    {FIOGETOWN, IoDir::kOut, 4},
    {SIOCGPGRP, IoDir::kOut, 4},
    // Sockets (net/socket.c sock_ioctl, net/core/dev_ioctl.c): the queries.
    // The SIOCS* requests that change interfaces are not translated.
    {SIOCATMARK, IoDir::kOut, 4},
    {SIOCGSTAMP, IoDir::kOut, 16},
    {SIOCGSTAMPNS, IoDir::kOut, 16},
    {SIOCGIFNAME, IoDir::kInOut, kIfreqSize},
    {SIOCGIFINDEX, IoDir::kInOut, kIfreqSize},
    {SIOCGIFFLAGS, IoDir::kInOut, kIfreqSize},
    {SIOCGIFADDR, IoDir::kInOut, kIfreqSize},
    {SIOCGIFDSTADDR, IoDir::kInOut, kIfreqSize},
    {SIOCGIFBRDADDR, IoDir::kInOut, kIfreqSize},
    {SIOCGIFNETMASK, IoDir::kInOut, kIfreqSize},
    {SIOCGIFMETRIC, IoDir::kInOut, kIfreqSize},
    {SIOCGIFMTU, IoDir::kInOut, kIfreqSize},
    {SIOCGIFHWADDR, IoDir::kInOut, kIfreqSize},
    {SIOCGIFMAP, IoDir::kInOut, kIfreqSize},
    {SIOCGIFTXQLEN, IoDir::kInOut, kIfreqSize},
    {SIOCGIFCONF, IoDir::kIfconf, sizeof(GuestIfconf)},
    {kVmSocketsGetLocalCid, IoDir::kOut, 4},
};

// SIOCGIFCONF (net/core/dev_ioctl.c dev_ifconf): the struct is read
// (EFAULT); a NULL buffer asks only for the length needed; otherwise up to
// len bytes of struct ifreq are written to the guest's buffer, and len
// becomes what was written. The host fills a host buffer of the same size.
int64_t ifconf(SyscallContext& ctx, int fd, unsigned req, InOut<GuestIfconf> arg) {
  auto gcr = arg.get(ctx.mm);
  if (!gcr) return fd_or(fd, gcr.error());
  GuestIfconf gc = *gcr;
  constexpr int32_t kMaxLen = 1 << 16;
  std::vector<unsigned char> host(gc.buf ? std::clamp(gc.len, 0, kMaxLen) : 0);
  struct ifconf hc {};
  hc.ifc_len = gc.buf ? static_cast<int>(host.size()) : gc.len;
  hc.ifc_buf = gc.buf ? reinterpret_cast<char*>(host.data()) : nullptr;
  long r = ::syscall(SYS_ioctl, fd, req, &hc);
  if (r < 0) return -static_cast<int64_t>(errno);
  if (gc.buf && hc.ifc_len > 0) {
    auto c = bytes_at(gc.buf).put(ctx.mm, host.data(), static_cast<uint64_t>(hc.ifc_len));
    if (!c) return -c.error();
  }
  gc.len = hc.ifc_len;
  if (auto c = arg.put(ctx.mm, gc); !c) return -c.error();
  return r;
}

// A request elfuse does not pass on, or one whose argument cannot be read:
// Linux's answer comes from the driver, so the host is asked with an
// argument it cannot read either (EFAULT where the driver reads it, ENOTTY
// where it does not know the request). An O_PATH fd is EBADF (fdget of
// FMODE_PATH in the ioctl syscall).
int64_t ioctl_refused(int fd, unsigned req, int err, bool ask_host) {
  int fl = static_cast<int>(::syscall(SYS_fcntl, fd, F_GETFL));
  if (fl < 0 || (fl & O_PATH)) return -EBADF;
  if (!ask_host) return -err;
  return host_rax(::syscall(SYS_ioctl, fd, req, nullptr));
}

}  // namespace

int64_t sys_dup(SyscallContext& ctx, Fd oldfd) {
  auto fd = guest_fd(ctx.proc, oldfd);
  if (!fd) return -fd.error();
  return new_fd_result(ctx.proc, ::syscall(SYS_dup, *fd));
}

// dup2(2): oldfd == newfd returns newfd once oldfd is known valid.
int64_t sys_dup2(SyscallContext& ctx, Fd oldfd, UFd newfd) {
  return do_dup3(ctx, oldfd, newfd, 0, true);
}

int64_t sys_dup3(SyscallContext& ctx, Fd oldfd, UFd newfd, OpenFlags flags) {
  return do_dup3(ctx, oldfd, newfd, static_cast<unsigned>(flags.v), false);
}

int64_t sys_pipe(SyscallContext& ctx, Out<FdPair> fds) {
  return do_pipe2(ctx, fds, 0);
}

int64_t sys_pipe2(SyscallContext& ctx, Out<FdPair> fds, OpenFlags flags) {
  return do_pipe2(ctx, fds, flags);
}

// fcntl(2). The fd is looked up first (EBADF), then the command; unknown
// commands are EINVAL (fs/fcntl.c do_fcntl).
int64_t sys_fcntl(SyscallContext& ctx, Fd fd_arg, FcntlCmd cmd_arg, ULong arg_arg) {
  auto fdr = guest_fd(ctx.proc, fd_arg);
  if (!fdr) return -fdr.error();
  int fd = *fdr;
  unsigned cmd = cmd_arg;
  uint64_t arg = arg_arg;
  switch (cmd) {
    case F_DUPFD:
    case F_DUPFD_CLOEXEC:
      // f_dupfd: a lower bound at or past RLIMIT_NOFILE is EINVAL.
      if (arg >= fd_limit(ctx.proc)) return fd_or(fd, EINVAL);
      return new_fd_result(ctx.proc, ::syscall(SYS_fcntl, fd, cmd, arg));

    case kFDupfdQuery:
      // The argument is a second fd; elfuse's own look closed.
      if (!ctx.proc.fds.guest_fd(static_cast<int>(arg))) return fd_or(fd, EBADF);
      return host_rax(::syscall(SYS_fcntl, fd, cmd, arg));

    case F_GETFD:
    case F_SETFD:
    case F_GETFL:
    case F_SETFL:
    case F_GETPIPE_SZ:
    case F_SETPIPE_SZ:
    case F_GETOWN:
    case F_SETOWN:
    case F_GETSIG:
    case F_SETSIG:
    case F_GETLEASE:
    case F_SETLEASE:
    case F_NOTIFY:
    case F_ADD_SEALS:
    case F_GET_SEALS:
      // Integer arguments: the host reads the register as Linux does.
      return host_rax(::syscall(SYS_fcntl, fd, cmd, arg));

    case F_GETLK:
    case F_OFD_GETLK:
      return fcntl_struct(ctx, fd, cmd, bytes_at(arg), sizeof(struct flock), true, true);
    case F_SETLK:
    case F_SETLKW:
    case F_OFD_SETLK:
    case F_OFD_SETLKW:
      return fcntl_struct(ctx, fd, cmd, bytes_at(arg), sizeof(struct flock), true, false);

    case F_GETOWN_EX:
      return fcntl_struct(ctx, fd, cmd, bytes_at(arg), sizeof(struct f_owner_ex), false, true);
    case F_SETOWN_EX:
      return fcntl_struct(ctx, fd, cmd, bytes_at(arg), sizeof(struct f_owner_ex), true, false);
    case kFGetRwHint:
      return fcntl_struct(ctx, fd, cmd, bytes_at(arg), sizeof(uint64_t), false, true);
    case kFSetRwHint:
      return fcntl_struct(ctx, fd, cmd, bytes_at(arg), sizeof(uint64_t), true, false);

    default:
      return fd_or(fd, EINVAL);
  }
}

// ioctl(2) for terminals, generic fd requests and socket queries, with the
// argument buffer translated; any other request is ENOTTY, which is what Linux answers for
// a request the fd's driver does not know.
int64_t sys_ioctl(SyscallContext& ctx, Fd fd_arg, IoctlReq req_arg, ULong arg_arg) {
  auto fdr = guest_fd(ctx.proc, fd_arg);
  if (!fdr) return -fdr.error();
  int fd = *fdr;
  unsigned req = req_arg;  // `unsigned int cmd` in fs/ioctl.c
  uint64_t arg = arg_arg;
  const IoctlSpec* spec = nullptr;
  for (const auto& s : kIoctls)
    if (static_cast<unsigned>(s.req) == req) spec = &s;
  if (!spec) return ioctl_refused(fd, req, ENOTTY, false);

  alignas(8) unsigned char buf[64] = {};
  long r;
  switch (spec->dir) {
    case IoDir::kNoArg:
    case IoDir::kValue:
      return host_rax(::syscall(SYS_ioctl, fd, req, arg));
    case IoDir::kNewFd:
      return new_fd_result(ctx.proc, ::syscall(SYS_ioctl, fd, req, arg));
    case IoDir::kIn: {
      auto c = bytes_at(arg).get(ctx.mm, buf, spec->size);
      if (!c) return ioctl_refused(fd, req, c.error(), true);
      return host_rax(::syscall(SYS_ioctl, fd, req, buf));
    }
    case IoDir::kOut: {
      r = ::syscall(SYS_ioctl, fd, req, buf);
      if (r < 0) return -static_cast<int64_t>(errno);
      auto c = bytes_at(arg).put(ctx.mm, buf, spec->size);
      if (!c) return -c.error();
      return r;
    }
    case IoDir::kInOut: {
      auto c = bytes_at(arg).get(ctx.mm, buf, spec->size);
      if (!c) return ioctl_refused(fd, req, c.error(), true);
      r = ::syscall(SYS_ioctl, fd, req, buf);
      if (r < 0) return -static_cast<int64_t>(errno);
      c = bytes_at(arg).put(ctx.mm, buf, spec->size);
      if (!c) return -c.error();
      return r;
    }
    case IoDir::kIfconf:
      return ifconf(ctx, fd, req, InOut<GuestIfconf>{{arg}});
  }
  return -ENOTTY;
}

}  // namespace elfuse
