// base/private_fd: elfuse's anonymous private objects are recognised when
// they are opened again through /proc/self/fd/N (is_private_object).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <string>

#include "base/private_fd.h"

namespace elfuse {
namespace {

int reopen(int fd, int flags) {
  return open(("/proc/self/fd/" + std::to_string(fd)).c_str(), flags | O_CLOEXEC);
}

TEST(PrivateFd, ReopenedPipeAndMemfdAreRecognisedWhileOpen) {
  set_private_fd_floor(600);
  int p[2];
  ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
  int priv = move_to_private_fd(p[0]);
  ASSERT_GE(priv, 600);
  int mfd = move_to_private_fd(memfd_create("private", MFD_CLOEXEC));
  ASSERT_GE(mfd, 600);

  int again = reopen(priv, O_RDONLY);
  ASSERT_GE(again, 0);
  EXPECT_TRUE(is_private_object(again));
  close(again);
  again = reopen(mfd, O_RDWR);
  ASSERT_GE(again, 0);
  EXPECT_TRUE(is_private_object(again));
  close(again);

  // An unrelated pipe is not elfuse's.
  int q[2];
  ASSERT_EQ(pipe2(q, O_CLOEXEC), 0);
  EXPECT_FALSE(is_private_object(q[0]));
  // A file with a name is never compared.
  int f = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
  ASSERT_GE(f, 0);
  EXPECT_FALSE(is_private_object(f));
  close(f);

  // Once elfuse closed its descriptor, the object is no longer its own.
  again = reopen(mfd, O_RDWR);
  ASSERT_GE(again, 0);
  close(mfd);
  EXPECT_FALSE(is_private_object(again));
  close(again);

  close(priv);
  close(p[1]);
  close(q[0]);
  close(q[1]);
  set_private_fd_floor(1024);
}

}  // namespace
}  // namespace elfuse
