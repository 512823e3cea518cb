// System-wide calls: sync, syslog (the kernel log), chroot, the queries
// ustat and sysfs, and the administration calls a guest never makes on the
// host: sethostname, setdomainname, reboot, acct, swapon, swapoff. sync,
// syslog and the queries act on the host kernel as they would for a native
// process with elfuse's credentials; chroot and the administration calls
// are refused (src/syscalls/privilege.h) after Linux's own checks.
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/reboot.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <vector>

#include "syscalls/fs_common.h"
#include "syscalls/privilege.h"
#include "syscalls/table.h"

namespace elfuse {

using namespace fs;

namespace {

// include/linux/syslog.h
constexpr int kSyslogActionRead = 2;
constexpr int kSyslogActionReadAll = 3;
constexpr int kSyslogActionReadClear = 4;
constexpr int kSyslogActionClear = 5;
constexpr int kSyslogActionConsoleOff = 6;
constexpr int kSyslogActionConsoleOn = 7;
constexpr int kSyslogActionConsoleLevel = 8;
constexpr int kSyslogActionSizeBuffer = 10;

// The actions that consume the host's log for its other readers or set its
// console.
bool syslog_acts_on_host(int type) {
  return type == kSyslogActionRead || type == kSyslogActionReadClear ||
         type == kSyslogActionClear || type == kSyslogActionConsoleOff ||
         type == kSyslogActionConsoleOn || type == kSyslogActionConsoleLevel;
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
  // The actions that consume the host's log for its other readers (read,
  // read-and-clear, clear) or set the host's console (off, on, level) are
  // host-wide: EPERM, the kernel's first answer to a process without
  // CAP_SYSLOG. /proc/kmsg, which reads as the read action does, is
  // refused too (fs/proc_view.cc).
  if (syslog_acts_on_host(type)) return -EPERM;
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

// ------------------------------------------------------------ queries

// ustat(dev, ubuf), fs/statfs.c: the free blocks and inodes of the file
// system mounted from dev (a host device number, as stat(2) shows the
// guest).
int64_t sys_ustat(SyscallContext& ctx, const SyscallArgs& a) {
  struct {
    int32_t f_tfree;
    uint64_t f_tinode;
    char f_fname[6], f_fpack[6];
  } buf{};
  static_assert(sizeof buf == 32);
  if (::syscall(SYS_ustat, arg_uint(a.a[0]), &buf) < 0) return -static_cast<int64_t>(errno);
  auto c = ctx.mm.copy_out(a.a[1], &buf, sizeof buf);
  return c ? 0 : -c.error();
}

// sysfs(option, arg1, arg2), fs/filesystems.c: 1 maps a file-system name to
// its index (the name copied as a path: EFAULT, ENAMETOOLONG; EINVAL when
// unknown), 2 stores the name of an index (EINVAL past the end, EFAULT),
// 3 counts them; other options EINVAL. The host's list is the guest's.
int64_t sys_sysfs(SyscallContext& ctx, const SyscallArgs& a) {
  int option = arg_int(a.a[0]);
  if (option == 1) {
    auto name = copy_path(ctx.mm, a.a[1]);
    if (!name) return -name.error();
    return host_rax(::syscall(SYS_sysfs, 1, name->c_str()));
  }
  if (option == 2) {
    char name[256] = {};
    long r = ::syscall(SYS_sysfs, 2, arg_uint(a.a[1]), name);
    if (r < 0) return -static_cast<int64_t>(errno);
    auto c = ctx.mm.copy_out(a.a[2], name, strnlen(name, sizeof name - 1) + 1);
    return c ? r : -c.error();
  }
  return host_rax(::syscall(SYS_sysfs, option, a.a[1], a.a[2]));
}

// ------------------------------------------------ refused administration

namespace {

// include/uapi/linux/utsname.h __NEW_UTS_LEN.
constexpr int kNewUtsLen = 64;

// sethostname/setdomainname(name, len), kernel/sys.c: CAP_SYS_ADMIN first
// (EPERM), then len (EINVAL), then the copy (EFAULT).
int64_t set_uts_name(SyscallContext& ctx, const SyscallArgs& a) {
  if (!host_has_cap(CAP_SYS_ADMIN)) return -EPERM;
  int len = arg_int(a.a[1]);
  if (len < 0 || len > kNewUtsLen) return -EINVAL;
  char tmp[kNewUtsLen];
  if (!ctx.mm.copy_in(tmp, a.a[0], static_cast<uint64_t>(len))) return -EFAULT;
  return -EPERM;
}

// A guest path opened the way a call that uses the file opens it
// (file_open_name): the open's errno, or an fd (closed by the caller).
Result<UniqueFd> open_guest_path(SyscallContext& ctx, uint64_t path_addr, int flags) {
  std::string path = TRY(copy_path(ctx.mm, path_addr));
  int fd;
  if (ctx.proc.sysroot) {
    fd = TRY(ctx.proc.sysroot->open(AT_FDCWD, path, flags | O_CLOEXEC, 0));
  } else {
    fd = ::open(followed_host_path(ctx.proc, path).c_str(), flags | O_CLOEXEC);
    if (fd < 0) return Errno{errno};
  }
  fd = move_to_private_fd(fd);
  if (fd < 0) return Errno{errno};
  return UniqueFd(fd);
}

// Whether the file or block device open at fd is an active swap area: the
// host's /proc/swaps lists it.
bool is_active_swap(int fd) {
  struct stat want;
  if (::fstat(fd, &want) != 0) return false;
  FILE* f = fopen("/proc/swaps", "re");
  if (!f) return false;
  char line[4096];
  bool found = false;
  if (fgets(line, sizeof line, f)) {  // header
    while (!found && fgets(line, sizeof line, f)) {
      char name[4096];
      if (sscanf(line, "%4095s", name) != 1) continue;
      // Names are escaped as in /proc/mounts (\040 for a space).
      std::string n;
      for (size_t i = 0; name[i]; i++) {
        if (name[i] == '\\' && name[i + 1] && name[i + 2] && name[i + 3]) {
          n += static_cast<char>((name[i + 1] - '0') * 64 + (name[i + 2] - '0') * 8 +
                                 (name[i + 3] - '0'));
          i += 3;
        } else {
          n += name[i];
        }
      }
      struct stat st;
      if (::stat(n.c_str(), &st) != 0) continue;
      found = S_ISBLK(want.st_mode) ? (S_ISBLK(st.st_mode) && st.st_rdev == want.st_rdev)
                                    : (st.st_dev == want.st_dev && st.st_ino == want.st_ino);
    }
  }
  fclose(f);
  return found;
}

}  // namespace

int64_t sys_sethostname(SyscallContext& ctx, const SyscallArgs& a) {
  return set_uts_name(ctx, a);
}
int64_t sys_setdomainname(SyscallContext& ctx, const SyscallArgs& a) {
  return set_uts_name(ctx, a);
}

// reboot(magic1, magic2, cmd, arg), kernel/reboot.c: CAP_SYS_BOOT first
// (EPERM), the magic numbers (EINVAL), then the command: the ones Linux
// carries out (restart, halt, power off, restart with a command string
// read from arg: EFAULT, Ctrl-Alt-Del on and off) are EPERM; kexec and
// hibernation (this host's kernel has neither, CONFIG_KEXEC_CORE and
// CONFIG_HIBERNATION) and unknown commands are EINVAL.
int64_t sys_reboot(SyscallContext& ctx, const SyscallArgs& a) {
  if (!host_has_cap(CAP_SYS_BOOT)) return -EPERM;
  uint32_t magic1 = static_cast<uint32_t>(a.a[0]), magic2 = static_cast<uint32_t>(a.a[1]);
  if (magic1 != LINUX_REBOOT_MAGIC1 ||
      (magic2 != LINUX_REBOOT_MAGIC2 && magic2 != LINUX_REBOOT_MAGIC2A &&
       magic2 != LINUX_REBOOT_MAGIC2B && magic2 != LINUX_REBOOT_MAGIC2C))
    return -EINVAL;
  switch (arg_uint(a.a[2])) {
    case LINUX_REBOOT_CMD_RESTART2: {
      char c;
      if (!ctx.mm.copy_in(&c, a.a[3], 1)) return -EFAULT;
      return -EPERM;
    }
    case LINUX_REBOOT_CMD_RESTART:
    case LINUX_REBOOT_CMD_CAD_ON:
    case LINUX_REBOOT_CMD_CAD_OFF:
    case LINUX_REBOOT_CMD_HALT:
    case LINUX_REBOOT_CMD_POWER_OFF:
      return -EPERM;
    default:
      return -EINVAL;
  }
}

// acct(name), kernel/acct.c: CAP_SYS_PACCT first (EPERM); then the file is
// opened for appending (its errors) and must be regular (EACCES); turning
// accounting off (NULL) or on is then EPERM.
int64_t sys_acct(SyscallContext& ctx, const SyscallArgs& a) {
  if (!host_has_cap(CAP_SYS_PACCT)) return -EPERM;
  if (a.a[0] == 0) return -EPERM;
  auto fd = open_guest_path(ctx, a.a[0], O_WRONLY | O_APPEND | O_LARGEFILE);
  if (!fd) return -fd.error();
  struct stat st;
  if (::fstat(fd->get(), &st) == 0 && !S_ISREG(st.st_mode)) return -EACCES;
  return -EPERM;
}

// swapon(path, flags), mm/swapfile.c: unknown flags EINVAL, then
// CAP_SYS_ADMIN (EPERM), then the file opened read-write (its errors);
// then EPERM.
int64_t sys_swapon(SyscallContext& ctx, const SyscallArgs& a) {
  constexpr unsigned kSwapFlagsValid = 0x7ffff;  // SWAP_FLAGS_VALID
  if (arg_uint(a.a[1]) & ~kSwapFlagsValid) return -EINVAL;
  if (!host_has_cap(CAP_SYS_ADMIN)) return -EPERM;
  auto fd = open_guest_path(ctx, a.a[0], O_RDWR | O_LARGEFILE);
  if (!fd) return -fd.error();
  return -EPERM;
}

// swapoff(path): CAP_SYS_ADMIN (EPERM), the file opened read-write (its
// errors), EINVAL unless it is an active swap area; then EPERM.
int64_t sys_swapoff(SyscallContext& ctx, const SyscallArgs& a) {
  if (!host_has_cap(CAP_SYS_ADMIN)) return -EPERM;
  auto fd = open_guest_path(ctx, a.a[0], O_RDWR | O_LARGEFILE);
  if (!fd) return -fd.error();
  return is_active_swap(fd->get()) ? -EPERM : -EINVAL;
}

}  // namespace elfuse
