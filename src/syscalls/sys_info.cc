// System information: uname, sysinfo, and getrandom's random bytes. The
// host's answers are the guest's: it runs on the host's kernel.
#include <sys/random.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "syscalls/fs_common.h"
#include "syscalls/out_struct.h"
#include "syscalls/table.h"

namespace elfuse {

using namespace fs;

static_assert(sizeof(struct utsname) == 390);
static_assert(sizeof(struct sysinfo) == 112);

namespace {

#ifndef GRND_INSECURE
constexpr unsigned GRND_INSECURE = 0x0004;
#endif

}  // namespace

int64_t sys_uname(SyscallContext& ctx, const SyscallArgs& a) {
  struct utsname u {};
  long r = ::syscall(SYS_uname, &u);
  return out_struct(ctx, r, a.a[0], u);
}

int64_t sys_sysinfo(SyscallContext& ctx, const SyscallArgs& a) {
  struct sysinfo si {};
  long r = ::syscall(SYS_sysinfo, &si);
  return out_struct(ctx, r, a.a[0], si);
}

// getrandom(2), drivers/char/random.c: unknown flags, or GRND_INSECURE with
// GRND_RANDOM, are EINVAL before the buffer is looked at; the count is
// clamped to MAX_RW_COUNT. A short fill (signal, or a split buffer whose
// later piece would block) returns the bytes written so far.
int64_t sys_getrandom(SyscallContext& ctx, const SyscallArgs& a) {
  unsigned flags = arg_uint(a.a[2]);
  if (flags & ~(GRND_NONBLOCK | GRND_RANDOM | GRND_INSECURE)) return -EINVAL;
  if ((flags & (GRND_INSECURE | GRND_RANDOM)) == (GRND_INSECURE | GRND_RANDOM)) return -EINVAL;
  uint64_t len = std::min(a.a[1], kMaxRwCount);
  auto iov = ctx.mm.host_ranges(a.a[0], len, PROT_WRITE);
  if (!iov) return -iov.error();
  if (iov->empty()) return host_rax(::syscall(SYS_getrandom, nullptr, 0, flags));
  int64_t total = 0;
  for (const auto& v : *iov) {
    long r = ::syscall(SYS_getrandom, v.iov_base, v.iov_len, flags);
    if (r < 0) return total > 0 ? total : -static_cast<int64_t>(errno);
    total += r;
    if (static_cast<size_t>(r) < v.iov_len) break;
  }
  return total;
}

}  // namespace elfuse
