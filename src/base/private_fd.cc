#include "base/private_fd.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>

namespace elfuse {

static int g_floor = 1024;

void set_private_fd_floor(int floor) {
  g_floor = floor;
}
int private_fd_floor() {
  return g_floor;
}

namespace {

// The remembered private objects (not directories, not KVM's anonymous
// inodes, which cannot be opened again): a fixed table of slots, lock
// free (a forked child copies it in any state, and elfuse's threads move
// fds concurrently). A slot is free when fd is -1; an entry whose fd was
// closed, or now holds something else, is found stale when compared and
// freed then.
struct PrivateObject {
  std::atomic<int> fd{-1};
  std::atomic<uint64_t> dev{0}, ino{0};
};
constexpr int kSlots = 64;
PrivateObject g_objects[kSlots];

// Objects worth remembering: anonymous ones (no path names them: only a
// magic link reaches them again), device nodes and named files (a path
// also names them: the gate then asks how the guest got there).
bool anonymous(const struct stat& st);
bool remembered_kind(int fd, const struct stat& st) {
  if (anonymous(st)) return true;
  if (!S_ISCHR(st.st_mode) && !S_ISREG(st.st_mode)) return false;
  char link[64];
  std::string self = "/proc/thread-self/fd/" + std::to_string(fd);
  ssize_t n = readlink(self.c_str(), link, sizeof link - 1);
  return !(n >= 11 && memcmp(link, "anon_inode:", 11) == 0);
}

bool same_object(int fd, uint64_t dev, uint64_t ino) {
  struct stat st;
  return fstat(fd, &st) == 0 && st.st_dev == dev && st.st_ino == ino;
}

// An object no path names: only a magic link reaches it again.
bool anonymous(const struct stat& st) {
  return S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode) || (S_ISREG(st.st_mode) && st.st_nlink == 0);
}

void remember(int fd) {
  struct stat st;
  if (fstat(fd, &st) != 0 || !remembered_kind(fd, st)) return;
  for (PrivateObject& o : g_objects) {
    int cur = o.fd.load(std::memory_order_acquire);
    bool stale = cur >= 0 && cur != fd &&
                 !same_object(cur, o.dev.load(std::memory_order_relaxed),
                              o.ino.load(std::memory_order_relaxed));
    if (cur != -1 && cur != fd && !stale) continue;
    // Claim the slot (-2: being written), then publish the fd last.
    if (!o.fd.compare_exchange_strong(cur, -2, std::memory_order_acq_rel)) continue;
    o.dev.store(st.st_dev, std::memory_order_relaxed);
    o.ino.store(st.st_ino, std::memory_order_relaxed);
    o.fd.store(fd, std::memory_order_release);
    return;
  }
  // Table full: the object goes unremembered (the fd listing and the
  // /proc gate still hide its number).
}

}  // namespace

int move_to_private_fd(int fd) {
  if (fd < 0 || fd >= g_floor) return fd;
  int moved = fcntl(fd, F_DUPFD_CLOEXEC, g_floor);
  int saved = errno;
  close(fd);
  if (moved >= 0) remember(moved);
  errno = saved;
  return moved;
}

PrivateKind private_object_kind(int fd) {
  struct stat st;
  if (fstat(fd, &st) != 0 || S_ISDIR(st.st_mode)) return PrivateKind::kNone;
  for (PrivateObject& o : g_objects) {
    int cur = o.fd.load(std::memory_order_acquire);
    if (cur < 0) continue;
    if (o.dev.load(std::memory_order_relaxed) != st.st_dev ||
        o.ino.load(std::memory_order_relaxed) != st.st_ino)
      continue;
    // Still elfuse's? (The number may have been closed and reused.)
    if (cur != fd && same_object(cur, st.st_dev, st.st_ino))
      return anonymous(st) ? PrivateKind::kAnonymous : PrivateKind::kNamed;
    int expect = cur;
    o.fd.compare_exchange_strong(expect, -1, std::memory_order_acq_rel);
  }
  return PrivateKind::kNone;
}

}  // namespace elfuse

namespace elfuse {

FdPlan plan_fd_floor(uint64_t soft, uint64_t hard, bool raised) {
  if (raised) {
    return FdPlan{static_cast<int>(hard), soft, hard, hard + kPrivateFds, hard + kPrivateFds};
  }
  uint64_t floor = hard >= kMaxFdFloor + kPrivateFds ? kMaxFdFloor
                   : hard > 2 * kPrivateFds          ? hard - kPrivateFds
                   : hard > 256                      ? hard - 128
                                                     : hard / 2;
  uint64_t guest_hard = floor;
  uint64_t guest_soft = soft < guest_hard ? soft : guest_hard;
  uint64_t host_soft = hard < floor + kPrivateFds ? hard : floor + kPrivateFds;
  return FdPlan{static_cast<int>(floor), guest_soft, guest_hard, host_soft, hard};
}

}  // namespace elfuse
