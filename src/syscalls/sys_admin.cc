// System-wide calls a guest may make: sync, syslog (the kernel log), chroot.
// sync and syslog act on the host kernel as they would for a native process
// with elfuse's credentials; chroot is the exception (see there).
#include <fcntl.h>
#include <linux/capability.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <vector>

#include "syscalls/fs_common.h"
#include "syscalls/table.h"

namespace elfuse {

using namespace fs;

namespace {

// include/linux/syslog.h
constexpr int kSyslogActionRead = 2;
constexpr int kSyslogActionReadAll = 3;
constexpr int kSyslogActionReadClear = 4;
constexpr int kSyslogActionSizeBuffer = 10;

bool host_has_cap(int cap) {
  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  if (::syscall(SYS_capget, &hdr, data) < 0) return false;
  return (data[cap / 32].effective >> (cap % 32)) & 1;
}

}  // namespace

// sync(2) never fails.
int64_t sys_sync(SyscallContext&, const SyscallArgs&) {
  ::sync();
  return 0;
}

// syslog(type, buf, len), kernel/printk/printk.c do_syslog(): the permission
// check comes first (EPERM without CAP_SYSLOG, or for the read-all and
// size actions when kernel.dmesg_restrict is set), then for the three read
// actions a NULL buf or negative len is EINVAL and len 0 returns 0. The
// host does all of that on a host buffer; the bytes it returns are then
// stored into the guest's buffer (EFAULT, with the log already read, as a
// fault in the kernel's copy_to_user would leave it).
int64_t sys_syslog(SyscallContext& ctx, const SyscallArgs& a) {
  int type = arg_int(a.a[0]);
  int len = arg_int(a.a[2]);
  bool reads =
      type == kSyslogActionRead || type == kSyslogActionReadAll || type == kSyslogActionReadClear;
  if (!reads || a.a[1] == 0 || len <= 0) {
    // No guest memory is touched: the host sees a non-NULL buffer only where
    // the guest passed one, so it answers EINVAL/0 exactly where Linux would.
    static char dummy;
    return host_rax(::syscall(SYS_syslog, type, a.a[1] ? &dummy : nullptr, len));
  }
  // The log holds at most its buffer size; a larger guest buffer is never
  // filled beyond that, so the host buffer need not be larger.
  long log_size = ::syscall(SYS_syslog, kSyslogActionSizeBuffer, nullptr, 0);
  size_t cap = log_size > 0 ? static_cast<size_t>(log_size) : (1u << 16);
  std::vector<char> buf(std::min(static_cast<size_t>(len), cap));
  long r = ::syscall(SYS_syslog, type, buf.data(), buf.size());
  if (r < 0) return -static_cast<int64_t>(errno);
  auto c = ctx.mm.copy_out(a.a[1], buf.data(), static_cast<uint64_t>(r));
  return c ? r : -c.error();
}

// chroot(path), fs/open.c: the path must name a searchable directory
// (lookup errors first), then CAP_SYS_CHROOT is needed (EPERM). Without the
// capability the host call fails exactly as Linux would and changes nothing.
// With it, the host call would change elfuse's own root too, and elfuse
// still needs the host's (/dev/kvm for fork and execve, /proc/self/fd), so
// the guest gets the path checks and then EPERM: refused, not half done.
int64_t sys_chroot(SyscallContext& ctx, const SyscallArgs& a) {
  auto path = copy_path(ctx.mm, a.a[0]);
  if (!path) return -path.error();
  std::string host = followed_host_path(ctx.proc, *path);
  UniqueFd hold;
  if (ctx.proc.sysroot) {
    auto fd = root_lookup(ctx.proc, AT_FDCWD, *path, true);
    if (!fd) return -fd.error();
    hold = std::move(*fd);
    host = proc_fd_path(hold.get());
  }
  if (!host_has_cap(CAP_SYS_CHROOT)) return host_rax(::syscall(SYS_chroot, host.c_str()));
  // user_path_at(LOOKUP_FOLLOW | LOOKUP_DIRECTORY): ENOENT, ENOTDIR, ELOOP,
  // EACCES on the way, ...
  int fd = ::open(host.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return -static_cast<int64_t>(errno);
  ::close(fd);
  // ...path_permission(MAY_EXEC | MAY_CHDIR) on the directory itself.
  if (::faccessat(AT_FDCWD, host.c_str(), X_OK, AT_EACCESS) < 0)
    return -static_cast<int64_t>(errno);
  return -EPERM;
}

}  // namespace elfuse
