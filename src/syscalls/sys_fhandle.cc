// File handles (fs/fhandle.c): name_to_handle_at and open_by_handle_at.
// The handles are the host file systems' own (guest files are host files),
// so the host encodes and decodes them. A guest path resolves as other path
// calls do (inside the root under --sysroot), and a handle never opens a
// file outside the root there: a handle is file-system wide, so the object
// it leads to is checked afterwards.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>
#include <memory>
#include <string>

#include "fs/proc/procfs.h"
#include "syscalls/fs_common.h"
#include "syscalls/privilege.h"
#include "syscalls/table.h"
#include "syscalls/uio_common.h"

namespace elfuse {

using namespace fs;

namespace {

// include/linux/exportfs.h MAX_HANDLE_SZ; struct file_handle's header.
constexpr uint32_t kMaxHandleSz = 128;
struct HandleHeader {
  uint32_t handle_bytes;
  int32_t handle_type;
};
struct HostHandle {
  HandleHeader h;
  unsigned char bytes[kMaxHandleSz];
};
// include/uapi/linux/fcntl.h AT_HANDLE_MNT_ID_UNIQUE: the mount id is a u64.
constexpr int kAtHandleMntIdUnique = 0x001;

// A private mapping of two pages, the second inaccessible, holding a handle
// header right before the boundary: the host reads the header and faults on
// the first byte of the handle, as the kernel faults on the guest's.
struct FaultingHandle {
  void* map = MAP_FAILED;
  explicit FaultingHandle(const HandleHeader& h) {
    map = ::mmap(nullptr, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (map == MAP_FAILED) return;
    ::mprotect(static_cast<char*>(map) + 4096, 4096, PROT_NONE);
    memcpy(static_cast<char*>(map) + 4096 - sizeof h, &h, sizeof h);
  }
  ~FaultingHandle() {
    if (map != MAP_FAILED) ::munmap(map, 8192);
  }
  const void* get() const {
    return map == MAP_FAILED ? uio::fault_ptr()
                             : static_cast<const char*>(map) + 4096 - sizeof(HandleHeader);
  }
};

}  // namespace

// name_to_handle_at(dirfd, path, handle, mount_id, flags): the flags
// (EINVAL), the lookup (AT_SYMLINK_FOLLOW, AT_EMPTY_PATH), a file system
// that can encode handles (EOPNOTSUPP), the handle's header (EFAULT) and
// size (EINVAL); then the mount id and the handle are stored (EFAULT), also
// when the buffer was too small (EOVERFLOW: the header with the size
// needed).
int64_t sys_name_to_handle_at(SyscallContext& ctx, const SyscallArgs& a) {
  int dirfd = guest_dirfd(ctx.proc, a.a[0]);
  int flags = arg_int(a.a[4]);
  HostHandle handle{};
  const void* host_handle = &handle;
  if (!ctx.mm.copy_in(&handle.h, a.a[2], sizeof handle.h)) host_handle = uio::fault_ptr();
  uint64_t mnt_id = 0;
  long r;
  if (ctx.proc.sysroot && !(a.a[1] == 0 && (flags & AT_EMPTY_PATH))) {
    // The flags first (EINVAL): the host checks them for a name it cannot
    // find.
    long probe = ::syscall(SYS_name_to_handle_at, AT_FDCWD, "", uio::fault_ptr(), uio::fault_ptr(),
                           flags & ~AT_EMPTY_PATH);
    if (probe == 0 || errno != ENOENT) return probe == 0 ? -EINVAL : -static_cast<int64_t>(errno);
    auto path = copy_path(ctx.mm, a.a[1]);
    if (!path) return -path.error();
    if (path->empty() && (flags & AT_EMPTY_PATH)) {
      r = ::syscall(SYS_name_to_handle_at, dirfd, "", host_handle, &mnt_id, flags);
    } else {
      auto fd = root_lookup(ctx.proc, dirfd, *path, flags & AT_SYMLINK_FOLLOW);
      if (!fd) return -fd.error();
      r = ::syscall(SYS_name_to_handle_at, fd->get(), "", host_handle, &mnt_id,
                    (flags & ~AT_SYMLINK_FOLLOW) | AT_EMPTY_PATH);
    }
  } else {
    std::string path;
    const char* host_path = nullptr;
    if (a.a[1] != 0 || !(flags & AT_EMPTY_PATH)) {
      auto p = copy_path(ctx.mm, a.a[1]);
      if (!p) {
        // The flags are checked before the name is read.
        r = ::syscall(SYS_name_to_handle_at, dirfd, uio::failing_path(p.error()), host_handle,
                      &mnt_id, flags);
        return r < 0 ? -static_cast<int64_t>(errno) : -p.error();
      }
      path = (flags & AT_SYMLINK_FOLLOW) ? followed_host_path(ctx.proc, *p) : *p;
      host_path = path.c_str();
    }
    r = ::syscall(SYS_name_to_handle_at, dirfd, host_path, host_handle, &mnt_id, flags);
  }
  if (r < 0 && errno != EOVERFLOW) return -static_cast<int64_t>(errno);
  int64_t result = r < 0 ? -EOVERFLOW : 0;
  uint64_t id_size = (flags & kAtHandleMntIdUnique) ? 8 : 4;
  if (!ctx.mm.copy_out(a.a[3], &mnt_id, id_size)) result = -EFAULT;
  uint64_t stored = sizeof handle.h + (r < 0 ? 0 : handle.h.handle_bytes);
  if (!ctx.mm.copy_out(a.a[2], &handle, stored)) result = -EFAULT;
  return result;
}

// open_by_handle_at(mount_fd, handle, flags): the mount fd (EBADF), the
// permission to decode (EPERM without CAP_DAC_READ_SEARCH, except where
// Linux relaxes it), the header (EFAULT) and size and type (EINVAL), the
// handle itself (EFAULT), the decode (ESTALE), then the open. All of that
// is the host's, on a copy of the guest's handle. Under --sysroot a file
// outside the root (a handle names any file of its file system) is ESTALE,
// as Linux answers a handle it may not decode to a connected path.
int64_t sys_open_by_handle_at(SyscallContext& ctx, const SyscallArgs& a) {
  int mount_fd = guest_dirfd(ctx.proc, a.a[0]);
  int flags = arg_int(a.a[2]);
  HostHandle handle{};
  const void* host_handle = &handle;
  std::unique_ptr<FaultingHandle> faulting;
  if (!ctx.mm.copy_in(&handle.h, a.a[1], sizeof handle.h)) {
    host_handle = uio::fault_ptr();
  } else if (handle.h.handle_bytes > 0 && handle.h.handle_bytes <= kMaxHandleSz &&
             !ctx.mm.copy_in(handle.bytes, a.a[1] + sizeof handle.h, handle.h.handle_bytes)) {
    faulting = std::make_unique<FaultingHandle>(handle.h);
    host_handle = faulting->get();
  }
  long r = ::syscall(SYS_open_by_handle_at, mount_fd, host_handle, flags);
  if (r < 0) return -static_cast<int64_t>(errno);
  if (ctx.proc.sysroot) {
    char link[4096];
    std::string self = proc_fd_path(static_cast<int>(r));
    ssize_t n = ::readlink(self.c_str(), link, sizeof link - 1);
    link[n > 0 ? n : 0] = 0;
    // Only file-system objects can be outside the root (a pidfs handle
    // opens a pidfd, whose link does not start with '/').
    if (n <= 0 || (link[0] == '/' && !ctx.proc.sysroot->guest_path(link))) {
      ::close(static_cast<int>(r));
      return -ESTALE;
    }
  }
  // A /proc object (proc has no handles today; the check costs one fstatfs).
  auto g = gate_opened(ctx.proc, ctx.thread, static_cast<int>(r), flags, -1, nullptr);
  if (!g) return -g.error();
  return new_fd_result(ctx.proc, *g);
}

}  // namespace elfuse
