// Helpers shared by the file-system syscall families (sys_file.cc,
// sys_dir.cc, sys_fd.cc): argument decoding the way the kernel decodes it,
// the fd floor rules of FdRules, and guest path strings.
#pragma once

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <string>

#include "abi/linux.h"
#include "base/result.h"
#include "fs/proc/procfs.h"
#include "fs/proc_view.h"
#include "fs/sysroot.h"
#include "kernel/process.h"
#include "mm/memory_manager.h"
#include "syscalls/syscall.h"

namespace elfuse::fs {

// The ABI limits of abi/linux.h, also by their fs:: names.
using elfuse::kIovMax;
using elfuse::kMaxRwCount;
using elfuse::kPathMax;

// A C `int` argument: the kernel uses the low 32 bits of the register.
inline int arg_int(uint64_t reg) {
  return static_cast<int>(static_cast<uint32_t>(reg));
}
inline unsigned arg_uint(uint64_t reg) {
  return static_cast<uint32_t>(reg);
}

// One past the highest fd the guest may be given: the virtual
// RLIMIT_NOFILE, never above the floor.
inline uint64_t fd_limit(const Process& p) {
  return std::min<uint64_t>(p.fds.nofile_soft, static_cast<uint64_t>(p.fds.floor));
}

// An fd argument. elfuse's own fds (>= floor) look closed: EBADF. Negative
// values go to the host unchanged, which answers EBADF as Linux does.
inline Result<int> guest_fd(const Process& p, uint64_t reg) {
  int fd = arg_int(reg);
  if (fd >= p.fds.floor) return Errno{EBADF};
  return fd;
}

// A dirfd argument of a *at call. Linux ignores dirfd for absolute paths and
// fails relative ones with EBADF when it is not open; -1 is never open, so
// handing the host -1 for an fd at or above the floor gives exactly the
// answer a closed fd would get, in both cases.
inline int guest_dirfd(const Process& p, uint64_t reg) {
  int fd = arg_int(reg);
  return fd >= p.fds.floor ? -1 : fd;
}

// The host created an fd for the guest (open, dup, fcntl F_DUPFD, ...): one
// at or above the guest's limit must not reach the guest. Linux would have
// failed with EMFILE before creating it (fs/file.c alloc_fd), so close it and
// say so.
inline int64_t new_fd_result(const Process& p, long host_ret) {
  if (host_ret < 0) return -static_cast<int64_t>(errno);
  if (static_cast<uint64_t>(host_ret) >= fd_limit(p)) {
    ::close(static_cast<int>(host_ret));
    return -EMFILE;
  }
  return host_ret;
}

// A guest path: EFAULT, or ENAMETOOLONG when no NUL within PATH_MAX bytes
// (fs/namei.c getname_flags).
inline Result<std::string> copy_path(const MemoryManager& mm, uint64_t addr) {
  return mm.copy_in_string(addr, kPathMax);
}

// True for the absolute names Linux resolves to the exe link of the process
// or one of its tasks: /proc/self/exe, /proc/thread-self/exe, /proc/<own
// pid>/exe, /proc/{self,<own pid>}/task/<tid>/exe. Its target must be the
// guest program, not elfuse.
inline bool is_proc_self_exe(const Process& p, const std::string& path) {
  if (path.size() < 10 || path.find("exe") == std::string::npos) return false;
  int pid = p.pid != 0 ? p.pid : static_cast<int>(::getpid());
  return procview::names_own_exe(pid, path);
}

// The path to use for a guest path that is followed (open, stat without
// AT_SYMLINK_NOFOLLOW, access...): only the exe link differs. Without a
// sysroot the result goes to the host as is; with one it is still a guest
// path, resolved inside the root by the caller.
inline std::string followed_host_path(const Process& p, const std::string& guest_path) {
  if (!p.exe_path.empty() && is_proc_self_exe(p, guest_path)) return p.exe_path;
  // Another guest process's exe link: its program, not its elfuse. When it
  // cannot answer, a name that is ENOENT for every call (no fd is "-1").
  int own = p.pid != 0 ? p.pid : static_cast<int>(::getpid());
  if (auto peer = peer_exe(own, guest_path)) return peer->ok() ? **peer : "/proc/self/fd/-1";
  return guest_path;
}

// Under --sysroot (p.sysroot set): the object a guest path names, as a
// private O_PATH fd resolved inside the root (src/fs/sysroot.h). A followed
// exe link leads to the guest program, whose exe_path is then a guest path.
inline Result<UniqueFd> root_lookup(const Process& p, int dirfd, const std::string& path,
                                    bool follow, bool directory = false) {
  return p.sysroot->lookup(dirfd, follow ? followed_host_path(p, path) : path, follow, directory);
}

// read(2)/write(2) and friends look the fd up before touching the buffer, so
// a bad fd is EBADF even when the buffer is bad too. We translate the buffer
// first; when that fails, ask the host whether the fd would have failed
// earlier. want_access is O_RDONLY (reading) or O_WRONLY (writing).
inline int64_t fd_error_first(int fd, int want_access, int buffer_errno) {
  long fl = ::syscall(SYS_fcntl, fd, F_GETFL);
  if (fl < 0) return -EBADF;
  if (fl & O_PATH) return -EBADF;
  int acc = static_cast<int>(fl) & O_ACCMODE;
  if (want_access == O_RDONLY && acc == O_WRONLY) return -EBADF;
  if (want_access == O_WRONLY && acc == O_RDONLY) return -EBADF;
  return -buffer_errno;
}

// An fd that failed an argument check before the host saw it: Linux looks
// the fd up first, so a closed fd is EBADF rather than `err`.
inline int64_t fd_or(int fd, int err) {
  if (::syscall(SYS_fcntl, fd, F_GETFD) < 0 && errno == EBADF) return -EBADF;
  return -err;
}

// read(2) of a signalfd whose mask has SIGURG while the guest's SIGURG is
// kept by elfuse (sys_event.cc): true with *result set when it answered.
bool signalfd_read_kept(SyscallContext& ctx, int fd, uint64_t buf, uint64_t count, int64_t* result);

}  // namespace elfuse::fs
