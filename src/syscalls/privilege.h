// Helpers for the calls elfuse refuses (docs/syscalls.md "refused"): a
// guest must never change the host's mounts, clock, host name, swap,
// accounting or power state, whatever its credentials. Such a call gives
// Linux's answer up to the point where it would act: without the
// capability the call needs, the host kernel's own answer (it fails there,
// changing nothing) or EPERM where the capability check comes first; with
// the capability, Linux's argument and lookup checks, then EPERM, as for a
// caller without it.
#pragma once

#include <fcntl.h>
#include <linux/capability.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "base/private_fd.h"
#include "base/result.h"
#include "base/unique_fd.h"
#include "syscalls/fs_common.h"

namespace elfuse {

// The effective capability set of the calling host thread (= guest thread)
// holds cap. capget(2) answers for the thread's own user namespace; the
// calls refused here check the initial one (capable()), so in a user
// namespace of its own a guest with the capability there gets Linux's later
// checks before the EPERM that Linux gives it at the capability check.
inline bool host_has_cap(int cap) {
  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  if (::syscall(SYS_capget, &hdr, data) < 0) return false;
  return (data[cap / 32].effective >> (cap % 32)) & 1;
}

// The object a guest path names, looked up as a call that acts on it would
// (fs/namei.c user_path_at): the path is copied (EFAULT, ENAMETOOLONG),
// an empty one is ENOENT unless empty_ok (AT_EMPTY_PATH: the dirfd itself),
// the last symlink is followed or not; under --sysroot inside the root.
// Returns a private O_PATH fd of the object, or the lookup's errno.
inline Result<UniqueFd> lookup_guest_path(SyscallContext& ctx, int dirfd, uint64_t path_addr,
                                          bool follow, bool empty_ok = false,
                                          bool directory = false) {
  // A NULL name with AT_EMPTY_PATH is the empty name (getname_maybe_null).
  std::string path =
      path_addr == 0 && empty_ok ? std::string() : TRY(fs::copy_path(ctx.mm, path_addr));
  if (path.empty()) {
    if (!empty_ok) return Errno{ENOENT};
    int fd =
        dirfd == AT_FDCWD ? ::open(".", O_PATH | O_CLOEXEC) : ::fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
    if (fd < 0) return Errno{errno == EBADF ? EBADF : errno};
    fd = move_to_private_fd(fd);
    if (fd < 0) return Errno{errno};
    return UniqueFd(fd);
  }
  if (ctx.proc.sysroot) return fs::root_lookup(ctx.proc, dirfd, path, follow, directory);
  std::string host = follow ? fs::followed_host_path(ctx.proc, path) : path;
  int flags = O_PATH | O_CLOEXEC | (follow ? 0 : O_NOFOLLOW) | (directory ? O_DIRECTORY : 0);
  int fd = ::openat(dirfd, host.c_str(), flags);
  if (fd < 0) return Errno{errno};
  fd = move_to_private_fd(fd);
  if (fd < 0) return Errno{errno};
  return UniqueFd(fd);
}

}  // namespace elfuse
