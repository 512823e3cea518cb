#include "fs/sysroot.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <vector>

#include "base/private_fd.h"
#include "fs/lexical_path.h"
#include "fs/proc_view.h"

namespace elfuse {
namespace {

// include/linux/fcntl.h VALID_OPEN_FLAGS and O_PATH_FLAGS: what
// build_open_how() (fs/open.c) keeps of an openat(2) flags word. openat2
// rejects anything else with EINVAL where openat ignores it, so the guest's
// flags are reduced the same way first.
constexpr uint64_t kValidOpenFlags = O_RDONLY | O_WRONLY | O_RDWR | O_CREAT | O_EXCL | O_NOCTTY |
                                     O_TRUNC | O_APPEND | O_NDELAY | O_NONBLOCK | O_SYNC | O_DSYNC |
                                     FASYNC | O_DIRECT | O_LARGEFILE | O_DIRECTORY | O_NOFOLLOW |
                                     O_NOATIME | O_CLOEXEC | O_PATH | O_TMPFILE;
constexpr uint64_t kOPathFlags = O_DIRECTORY | O_NOFOLLOW | O_PATH | O_CLOEXEC;

// Magic links (/proc/self/root, /proc/self/cwd, /proc/<pid>/fd/N) are
// jumps, not names: followed, they would land anywhere on the host. Scoped
// lookups refuse them today anyway (fs/namei.c nd_jump_link: EXDEV for
// LOOKUP_IS_SCOPED), and openat2(2) asks callers who rely on that to say
// RESOLVE_NO_MAGICLINKS explicitly, which makes the answer ELOOP.
constexpr uint64_t kInRoot = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
constexpr uint64_t kBeneath = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;

long openat2_retry(int dirfd, const char* path, uint64_t flags, uint64_t mode, uint64_t resolve) {
  open_how how{};
  how.flags = flags;
  how.mode = mode;
  how.resolve = resolve;
  // openat2(2): EAGAIN when a concurrent rename or mount made the scoped
  // `..` check unsure; the kernel asks the caller to retry.
  for (int i = 0;; i++) {
    long r = ::syscall(SYS_openat2, dirfd, path, &how, sizeof how);
    if (r >= 0 || errno != EAGAIN || i == 16) return r;
  }
}

bool read_fd_link(int fd, std::string* out) {
  char buf[PATH_MAX];
  std::string link = proc_fd_path(fd);
  ssize_t n = ::readlink(link.c_str(), buf, sizeof buf);
  if (n < 0 || n >= static_cast<ssize_t>(sizeof buf)) return false;
  out->assign(buf, static_cast<size_t>(n));
  return true;
}

// /proc, /sys and /dev are the host's under any root, as if bind-mounted
// there: an absolute guest path whose first component (after `.` and `..`
// are taken lexically) is one of them is a host path. The process's own
// root link (/proc/self/root, /proc/<own pid>/root) leads back into the root
// instead. Returns the host path, or the guest path to resolve inside the
// root (in_root), or nullopt for an ordinary path.
struct HostMount {
  std::string path;
  bool in_root = false;
  // Magic links are not followed on the way (RESOLVE_NO_MAGICLINKS): the
  // cwd, exe and fd links of a process that is not this one (another
  // elfuse, whose exe is elfuse and whose private fds lead anywhere, or a
  // host process outside the root), and map_files of any process.
  bool no_magic = false;
};

// A number under /proc that is neither this process nor one of its
// threads (the threads share its cwd, root and descriptors).
bool foreign_task(const std::string& who) {
  if (who.empty() || who.find_first_not_of("0123456789") != std::string::npos) return false;
  std::string own = std::to_string(getpid());
  if (who == own) return false;
  std::string dir = "/proc/" + own + "/task/" + who;
  return ::access(dir.c_str(), F_OK) != 0;
}
std::optional<HostMount> host_mount_path(const std::string& path) {
  if (path.empty() || path[0] != '/') return std::nullopt;
  // Fast exit for the common case: only paths that can start with one of
  // the three names (possibly after `.`, `..` or extra slashes).
  size_t first = path.find_first_not_of('/');
  if (first == std::string::npos) return std::nullopt;
  char c = path[first];
  if (c != 'p' && c != 's' && c != 'd' && c != '.') return std::nullopt;
  std::vector<std::string> parts = lexical_components(path);
  if (parts.empty() || (parts[0] != "proc" && parts[0] != "sys" && parts[0] != "dev"))
    return std::nullopt;
  bool trailing = path.back() == '/';
  HostMount m;
  size_t from = 0;
  // The root link of every task, this process's threads and every other
  // process alike (/proc/X/root, /proc/X/task/Y/root): the guest's root.
  // Linux's would be the task's root, which for every guest task is this
  // root; a host process's root is never the guest's to reach.
  if (parts[0] == "proc") {
    int at = procview::root_link_index(path);
    if (at > 0) {
      m.in_root = true;
      from = static_cast<size_t>(at) + 1;
    } else if (parts.size() >= 3) {
      m.no_magic = foreign_task(parts[1]) ||
                   std::find(parts.begin(), parts.end(), "map_files") != parts.end();
    }
  }
  for (size_t i = from; i < parts.size(); i++) m.path += "/" + parts[i];
  if (m.path.empty()) m.path = "/";
  if (trailing && m.path != "/") m.path += '/';
  return m;
}

bool is_host_mount(const std::string& host) {
  for (const char* d : {"/proc", "/sys", "/dev"}) {
    size_t n = std::strlen(d);
    if (host.compare(0, n, d) == 0 && (host.size() == n || host[n] == '/')) return true;
  }
  return false;
}

}  // namespace

std::string proc_fd_path(int fd) {
  return "/proc/thread-self/fd/" + std::to_string(fd);
}

Result<std::shared_ptr<Sysroot>> Sysroot::open(const std::string& dir) {
  char* real = ::realpath(dir.c_str(), nullptr);
  if (!real) return Errno{errno};
  std::string prefix = real;
  free(real);
  int fd = ::open(prefix.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Errno{errno};
  fd = move_to_private_fd(fd);
  if (fd < 0) return Errno{errno};
  if (prefix == "/") prefix.clear();  // a root of "/" needs no prefix to strip
  return std::shared_ptr<Sysroot>(new Sysroot(UniqueFd(fd), prefix));
}

std::optional<std::string> Sysroot::guest_path(const std::string& host) const {
  if (host.empty() || host[0] != '/') return std::nullopt;
  if (prefix_.empty()) return host;
  if (host.compare(0, prefix_.size(), prefix_) != 0 ||
      (host.size() > prefix_.size() && host[prefix_.size()] != '/'))
    return is_host_mount(host) ? std::optional<std::string>(host) : std::nullopt;
  if (host.size() == prefix_.size()) return std::string("/");
  if (host[prefix_.size()] != '/') return std::nullopt;
  return host.substr(prefix_.size());
}

Result<void> Sysroot::check_dirfd(int dirfd) const {
  std::string target;
  if (!read_fd_link(dirfd, &target)) return Errno{EBADF};
  // pipe:[...], socket:[...], anon_inode:...: not directories; the host's
  // lookup answers ENOTDIR, as Linux would.
  if (target.empty() || target[0] != '/') return Ok();
  if (guest_path(target)) return Ok();
  struct stat st;
  if (::fstat(dirfd, &st) == 0 && !S_ISDIR(st.st_mode)) return Ok();
  return Errno{EXDEV};
}

Result<std::string> Sysroot::guest_base(int dirfd) const {
  std::string host;
  if (dirfd == AT_FDCWD) {
    char buf[PATH_MAX];
    if (!::getcwd(buf, sizeof buf)) return Errno{errno};
    host = buf;
  } else if (!read_fd_link(dirfd, &host)) {
    return Errno{EBADF};
  }
  std::optional<std::string> g = guest_path(host);
  if (!g) return Errno{EXDEV};
  return *g;
}

Result<std::string> Sysroot::guest_cwd() const {
  char buf[PATH_MAX];
  if (!::getcwd(buf, sizeof buf)) return Errno{errno};
  std::optional<std::string> g = guest_path(buf);
  if (g) return *g;
  return std::string("(unreachable)") + buf;
}

// Absolute paths: from the root fd with RESOLVE_IN_ROOT. Relative paths:
// first from the guest's dirfd (or the cwd, which is inside the root by
// construction) with RESOLVE_BENEATH, which gives the same answer whenever
// the walk never leaves that directory and costs one call; a walk that
// leaves it (`..` above it, an absolute symlink) is EXDEV there and is then
// redone from the root as "<guest path of dirfd>/<path>", so `..` and
// absolute symlinks mean what they mean under chroot(2).
long Sysroot::resolve(int dirfd, const std::string& path, uint64_t flags, uint64_t mode,
                      uint64_t extra) const {
  if (path.empty()) {
    errno = ENOENT;  // fs/namei.c getname_flags without LOOKUP_EMPTY
    return -1;
  }
  if (path[0] == '/') {
    if (std::optional<HostMount> m = host_mount_path(path)) {
      if (m->in_root)
        return openat2_retry(root_fd(), m->path.c_str(), flags, mode, kInRoot | extra);
      // The host's /proc, /sys, /dev, magic links included (as under a
      // chroot with them mounted), but those of other processes.
      return openat2_retry(AT_FDCWD, m->path.c_str(), flags, mode,
                           extra | (m->no_magic ? RESOLVE_NO_MAGICLINKS : 0));
    }
    return openat2_retry(root_fd(), path.c_str(), flags, mode, kInRoot | extra);
  }
  if (dirfd != AT_FDCWD) {
    if (auto c = check_dirfd(dirfd); !c) {
      errno = c.error();
      return -1;
    }
  }
  // A relative name starting with proc, sys or dev may mean the host's
  // (from the guest's "/"): then it is resolved as the absolute path.
  size_t k = 0;
  while (path.compare(k, 2, "./") == 0) k += 2;
  bool maybe_mount = false;
  for (const char* d : {"proc", "sys", "dev"}) {
    size_t n = std::strlen(d);
    if (path.compare(k, n, d) == 0 && (path.size() == k + n || path[k + n] == '/'))
      maybe_mount = true;
  }
  long r = maybe_mount ? (errno = EXDEV, -1)
                       : openat2_retry(dirfd, path.c_str(), flags, mode, kBeneath | extra);
  // With the guest's RESOLVE_NO_XDEV the EXDEV stands: Linux gives it for
  // an absolute symlink met in a walk that did not start at the root (the
  // root is not set yet) and for a mount crossing. (A `..` above the
  // starting directory is EXDEV here too where Linux allows it.)
  if (r >= 0 || errno != EXDEV || (extra & RESOLVE_NO_XDEV)) return r;
  Result<std::string> base = guest_base(dirfd);
  if (!base) {
    errno = base.error();
    return -1;
  }
  std::string full = *base == "/" ? "/" + path : *base + "/" + path;
  if (full.size() >= PATH_MAX) {
    errno = ENAMETOOLONG;
    return -1;
  }
  // Absolute: in the root or a host mount.
  return resolve(AT_FDCWD, full, flags, mode, extra);
}

Result<int> Sysroot::open(int dirfd, const std::string& path, int flags, unsigned mode) const {
  // fs/open.c build_open_how.
  uint64_t f = static_cast<uint32_t>(flags) & kValidOpenFlags;
  if (f & O_PATH) f &= kOPathFlags;
  uint64_t m = (f & O_CREAT) || (f & O_TMPFILE) == O_TMPFILE ? (mode & 07777) : 0;
  f |= O_LARGEFILE;  // force_o_largefile() on 64-bit
  if (f & O_PATH) f &= ~static_cast<uint64_t>(O_LARGEFILE);
  long r = resolve(dirfd, path, f, m);
  if (r < 0) return Errno{errno};
  return static_cast<int>(r);
}

Result<int> Sysroot::open2(int dirfd, const std::string& path, uint64_t flags, uint64_t mode,
                           uint64_t resolve_flags) const {
  long r;
  if (resolve_flags & (RESOLVE_IN_ROOT | RESOLVE_BENEATH)) {
    // The walk is scoped to dirfd (or the cwd), both inside the root.
    if (dirfd != AT_FDCWD) TRY(check_dirfd(dirfd));
    r = openat2_retry(dirfd, path.c_str(), flags, mode, resolve_flags);
  } else {
    r = resolve(dirfd, path, flags, mode, resolve_flags);
  }
  if (r < 0) return Errno{errno};
  return static_cast<int>(r);
}

Result<UniqueFd> Sysroot::lookup(int dirfd, const std::string& path, bool follow,
                                 bool directory) const {
  uint64_t f = O_PATH | O_CLOEXEC | (follow ? 0 : O_NOFOLLOW) | (directory ? O_DIRECTORY : 0);
  long r = resolve(dirfd, path, f, 0);
  if (r < 0) return Errno{errno};
  int fd = move_to_private_fd(static_cast<int>(r));
  if (fd < 0) return Errno{errno};
  return UniqueFd(fd);
}

Result<Sysroot::Parent> Sysroot::parent(int dirfd, const std::string& path) const {
  if (path.empty()) return Errno{ENOENT};
  Parent p;
  size_t end = path.find_last_not_of('/');
  if (end == std::string::npos) {
    // Only slashes: the root itself (LAST_ROOT). Every name-changing call
    // fails on it before touching anything (EEXIST, EBUSY, EISDIR), so the
    // host answers with its own root the way Linux would with ours.
    p.dirfd = root_fd();
    p.name = "/";
    return p;
  }
  size_t slash = path.rfind('/', end);
  size_t start = slash == std::string::npos ? 0 : slash + 1;
  p.name = path.substr(start);
  // A last component of "." or ".." is never walked by these calls
  // (fs/namei.c filename_parentat hands back LAST_DOT/LAST_DOTDOT and the
  // callers fail with EEXIST, EBUSY, EINVAL, ENOTEMPTY, EISDIR), so it
  // cannot lead out of the parent.
  if (start == 0) {
    if (dirfd != AT_FDCWD) TRY(check_dirfd(dirfd));
    p.dirfd = dirfd;
    return p;
  }
  p.dir = TRY(lookup(dirfd, path.substr(0, start), true, true));
  p.dirfd = p.dir.get();
  return p;
}

}  // namespace elfuse
