#include "base/private_fd.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>

namespace elfuse {

static int g_floor = 1024;

void set_private_fd_floor(int floor) {
  g_floor = floor;
}
int private_fd_floor() {
  return g_floor;
}

int move_to_private_fd(int fd) {
  if (fd < 0 || fd >= g_floor) return fd;
  int moved = fcntl(fd, F_DUPFD_CLOEXEC, g_floor);
  int saved = errno;
  close(fd);
  errno = saved;
  return moved;
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
