// --sysroot DIR: every guest path resolves inside DIR with the kernel's own
// RESOLVE_IN_ROOT semantics (openat2(2)): absolute paths, `..` and absolute
// or relative symlinks all stay inside DIR, because the host kernel does the
// walk with DIR as the root of the lookup (fs/namei.c, LOOKUP_IN_ROOT).
// docs/internals.md, "Paths and --sysroot", has the whole design.
#pragma once

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>

#include "base/result.h"
#include "base/unique_fd.h"

namespace elfuse {

class Sysroot {
 public:
  // Opens DIR (an O_PATH directory fd above the fd floor) and records its
  // canonical host path. Call after the floor is set.
  static Result<std::shared_ptr<Sysroot>> open(const std::string& dir);

  int root_fd() const { return root_.get(); }
  const std::string& host_prefix() const { return prefix_; }

  // open(2)/openat(2) of a guest path with the guest's flags and mode,
  // resolved in the root. Returns the new host fd (not moved: it is the
  // guest's) or the errno openat would give.
  Result<int> open(int dirfd, const std::string& path, int flags, unsigned mode) const;

  // openat2(2) of a guest path with the guest's own open_how (flags and
  // mode already accepted by the host's checks). RESOLVE_IN_ROOT and
  // RESOLVE_BENEATH scope the walk to the guest's dirfd, which is inside the
  // root, as they do natively; the other RESOLVE_* flags restrict the walk
  // inside the root. Returns the new host fd or openat2's errno.
  Result<int> open2(int dirfd, const std::string& path, uint64_t flags, uint64_t mode,
                    uint64_t resolve) const;

  // The object a guest path names, as a private O_PATH fd. follow: the last
  // component's symlink is followed (inside the root); directory: O_DIRECTORY.
  Result<UniqueFd> lookup(int dirfd, const std::string& path, bool follow,
                          bool directory = false) const;

  // For calls that create or remove a name, or must not follow it: the
  // parent directory (resolved in the root) and the last component as the
  // guest wrote it (trailing slashes kept, so the host gives the same
  // ENOTDIR/EISDIR answers). `dirfd` is what to pass to the host *at call:
  // dir.get(), or the guest's own dirfd/AT_FDCWD for a bare name.
  struct Parent {
    UniqueFd dir;
    int dirfd = -1;
    std::string name;
  };
  Result<Parent> parent(int dirfd, const std::string& path) const;

  // The guest's name for a host absolute path: the path with the root's
  // prefix removed ("/" for the root itself); nullopt when outside.
  std::optional<std::string> guest_path(const std::string& host) const;

  // A guest dirfd used for a relative lookup must be inside the root: a
  // directory fd the guest got from outside (inherited, passed over a
  // socket) would otherwise be a way out, as with chroot(2). EXDEV for such
  // an fd, EBADF for one that is not open; non-directories pass (the host
  // then answers ENOTDIR).
  Result<void> check_dirfd(int dirfd) const;

  // The guest view of the host cwd for getcwd(2): the path inside the
  // root, or "(unreachable)" + host path as Linux prints a cwd outside the
  // process root (fs/d_path.c).
  Result<std::string> guest_cwd() const;

 private:
  Sysroot(UniqueFd root, std::string prefix) : root_(std::move(root)), prefix_(std::move(prefix)) {}
  // openat2 in the root; -1 with errno on failure.
  // extra: RESOLVE_* flags of the guest's own, added to every walk.
  long resolve(int dirfd, const std::string& path, uint64_t flags, uint64_t mode,
               uint64_t extra = 0) const;
  Result<std::string> guest_base(int dirfd) const;

  UniqueFd root_;
  std::string prefix_;  // canonical host path of DIR, never "/"
};

// "/proc/thread-self/fd/N": elfuse's own way to name a resolved O_PATH fd
// for host calls that have no AT_EMPTY_PATH form (chmod, truncate,
// xattrs...). The host kernel jumps to exactly the object the fd holds (a
// magic link), so nothing is looked up again by name. thread-self, not
// self: a guest thread that unshared its fd table (unshare(CLONE_FILES),
// close_range with CLOSE_RANGE_UNSHARE, clone without CLONE_FILES) holds the
// fd in its own table, which /proc/self (the leader's) does not show.
std::string proc_fd_path(int fd);

}  // namespace elfuse
