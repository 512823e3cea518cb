// The typed syscall boundary (syscalls/args.h, typed.h, uaccess.h): the
// registers decoded as the kernel narrows its parameters, a handler's
// result turned into RAX, a fake handler through the thunk, and the TYPED
// rows' trace kinds.
#include <gtest/gtest.h>
#include <sys/syscall.h>

#include "syscalls/table.h"
#include "syscalls/typed.h"

namespace elfuse {
namespace {

TEST(TypedArgs, IntArgumentsAreTheLow32BitsOfTheRegister) {
  EXPECT_EQ(Int::decode(0xffffffff'fffffffe).v, -2);
  EXPECT_EQ(Int::decode(0x00000001'00000005).v, 5);
  EXPECT_EQ(Fd::decode(0xdeadbeef'ffffff9c).v, -100);
  EXPECT_EQ(DirFd::decode(0x00000000'ffffff9c).v, -100);  // AT_FDCWD from a zero-extended int
  EXPECT_EQ(UInt::decode(0xffffffff'ffffffff).v, 0xffffffffu);
  EXPECT_EQ(UFd::decode(0x00000001'00000003).v, 3u);
  EXPECT_EQ(IoctlReq::decode(0xffffffff'80045430).v, 0x80045430u);
  int plain = Int::decode(0x1'00000007);  // converts to the C type
  EXPECT_EQ(plain, 7);
}

TEST(TypedArgs, LongArgumentsKeepTheWholeRegister) {
  EXPECT_EQ(Size::decode(0x00000001'00000000).v, 0x100000000u);
  EXPECT_EQ(ULong::decode(0xffffffff'ffffffff).v, ~uint64_t{0});
  EXPECT_EQ(Off::decode(0xffffffff'ffffffff).v, -1);
  EXPECT_EQ(Mode::decode(0x1'000001a4).v, 0x1000001a4u);  // the host narrows it
  EXPECT_EQ(Path::decode(0x7fff0000).addr, 0x7fff0000u);
  EXPECT_EQ(Out<int>::decode(0x1234).addr, 0x1234u);
  EXPECT_TRUE(In<int>::decode(0).null());
}

TEST(TypedArgs, TraceKindsComeFromTheTypes) {
  EXPECT_EQ(trace_kind<Fd>(), ArgKind::kFd);
  EXPECT_EQ(trace_kind<DirFd>(), ArgKind::kDirFd);
  EXPECT_EQ(trace_kind<Path>(), ArgKind::kPath);
  EXPECT_EQ(trace_kind<Out<KernelStat>>(), ArgKind::kPtr);
  EXPECT_EQ(trace_kind<InBuf>(), ArgKind::kStrIn);
  EXPECT_EQ(trace_kind<OutBuf>(), ArgKind::kStrOut);
  EXPECT_EQ(trace_kind<OpenFlags>(), ArgKind::kOpenFlags);
  EXPECT_EQ(trace_kind<None>(), ArgKind::kNone);
}

TEST(TypedThunk, ResultsBecomeRax) {
  EXPECT_EQ(result_rax(int64_t{-9}), -9);
  EXPECT_EQ(result_rax(Result<int>(Errno{EBADF})), -EBADF);
  EXPECT_EQ(result_rax(Result<int>(7)), 7);
  EXPECT_EQ(result_rax(Result<void>()), 0);
  EXPECT_EQ(result_rax(Result<void>(Errno{EFAULT})), -EFAULT);
}

// Fake handlers: what the thunk hands them, and what it makes of their
// results.
int g_seen_fd;
uint64_t g_seen_size;
int64_t g_seen_off;
uint64_t g_seen_addr;

int64_t fake_raw(SyscallContext&, Fd fd, Size n, Off off, Out<int> out) {
  g_seen_fd = fd;
  g_seen_size = n;
  g_seen_off = off;
  g_seen_addr = out.addr;
  return fd < 0 ? -EBADF : static_cast<int64_t>(n);
}

Result<int> fake_result(SyscallContext&, Int v) {
  if (v < 0) return Errno{EINVAL};
  return v * 2;
}

Result<void> fake_void(SyscallContext&) {
  return Ok();
}

TEST(TypedThunk, DecodesEachRegisterOnceAndCallsTheHandler) {
  // The fakes never touch the context: storage of its size stands in.
  alignas(SyscallContext) unsigned char storage[sizeof(SyscallContext)] = {};
  SyscallContext* ctx = reinterpret_cast<SyscallContext*>(storage);
  SyscallHandler h = &Thunk<&fake_raw>::call;
  SyscallArgs a{0, {0xffffffff'00000004, 0x1'00000000, ~uint64_t{0}, 0x5000, 77, 88}};
  EXPECT_EQ(h(*ctx, a), 0x100000000);
  EXPECT_EQ(g_seen_fd, 4);
  EXPECT_EQ(g_seen_size, 0x100000000u);
  EXPECT_EQ(g_seen_off, -1);
  EXPECT_EQ(g_seen_addr, 0x5000u);
  a.a[0] = 0xfffffffe;  // -2 as an int
  EXPECT_EQ(h(*ctx, a), -EBADF);

  SyscallHandler r = &Thunk<&fake_result>::call;
  EXPECT_EQ(r(*ctx, SyscallArgs{0, {0x7'00000015}}), 42);
  EXPECT_EQ(r(*ctx, SyscallArgs{0, {0xffffffff}}), -EINVAL);
  EXPECT_EQ((Thunk<&fake_void>::call(*ctx, SyscallArgs{})), 0);
}

TEST(TypedRows, DeclareTheirTraceKindsThroughTheirTypes) {
  const SyscallInfo* openat = syscall_info(SYS_openat);
  ASSERT_TRUE(openat && openat->typed);
  const ArgKind want[6] = {ArgKind::kDirFd, ArgKind::kPath, ArgKind::kOpenFlags,
                           ArgKind::kMode,  ArgKind::kNone, ArgKind::kNone};
  for (int i = 0; i < 6; i++) EXPECT_EQ(openat->args[i], want[i]) << i;
  EXPECT_EQ(openat->trace, TraceStyle::tOpen);
  const SyscallInfo* dup = syscall_info(SYS_dup);
  ASSERT_TRUE(dup && dup->typed && dup->handler);
  EXPECT_EQ(dup->args[0], ArgKind::kFd);
  EXPECT_EQ(dup->args[1], ArgKind::kNone);
}

}  // namespace
}  // namespace elfuse
