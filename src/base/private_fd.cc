#include "base/private_fd.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

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
