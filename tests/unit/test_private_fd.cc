// base/private_fd: elfuse's anonymous private objects are recognised when
// they are opened again through /proc/self/fd/N (private_object_kind).
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
  EXPECT_EQ(private_object_kind(again), PrivateKind::kAnonymous);
  close(again);
  again = reopen(mfd, O_RDWR);
  ASSERT_GE(again, 0);
  EXPECT_EQ(private_object_kind(again), PrivateKind::kAnonymous);
  close(again);

  // An unrelated pipe is not elfuse's.
  int q[2];
  ASSERT_EQ(pipe2(q, O_CLOEXEC), 0);
  EXPECT_EQ(private_object_kind(q[0]), PrivateKind::kNone);
  // A named file elfuse holds is kNamed, reached by its name or not; one it
  // does not hold is nothing.
  int f = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
  ASSERT_GE(f, 0);
  EXPECT_EQ(private_object_kind(f), PrivateKind::kNone);
  int held = move_to_private_fd(open("/proc/self/exe", O_RDONLY | O_CLOEXEC));
  ASSERT_GE(held, 600);
  EXPECT_EQ(private_object_kind(f), PrivateKind::kNamed);
  close(held);
  EXPECT_EQ(private_object_kind(f), PrivateKind::kNone);
  close(f);

  // Once elfuse closed its descriptor, the object is no longer its own.
  again = reopen(mfd, O_RDWR);
  ASSERT_GE(again, 0);
  close(mfd);
  EXPECT_EQ(private_object_kind(again), PrivateKind::kNone);
  close(again);

  close(priv);
  close(p[1]);
  close(q[0]);
  close(q[1]);
  set_private_fd_floor(1024);
}

}  // namespace
}  // namespace elfuse
