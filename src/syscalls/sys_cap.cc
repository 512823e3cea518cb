// Capabilities and the terminal hangup: capget, capset, vhangup. A guest
// process is one host process (pid = host pid, tid = host tid), so these are
// the host's calls on elfuse itself, with the structures copied across
// (kernel/capability.c).
#include <linux/capability.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "syscalls/fs_common.h"
#include "syscalls/table.h"

namespace elfuse {

namespace {

// How many __user_cap_data_struct a header version takes: 1 for v1, 2 for
// v2 and v3, 0 for a version the kernel refuses (it then writes its own
// version into the header and fails with EINVAL; the host does that here).
int cap_data_count(uint32_t version) {
  switch (version) {
    case _LINUX_CAPABILITY_VERSION_1:
      return _LINUX_CAPABILITY_U32S_1;
    case _LINUX_CAPABILITY_VERSION_2:
    case _LINUX_CAPABILITY_VERSION_3:
      return _LINUX_CAPABILITY_U32S_3;
  }
  return 0;
}

// The header back to the guest when the host changed it (an unknown
// version): cap_validate_magic's put_user, EFAULT if that fails.
int64_t header_back(SyscallContext& ctx, uint64_t addr, const __user_cap_header_struct& before,
                    const __user_cap_header_struct& after, int64_t result) {
  if (memcmp(&before, &after, sizeof before) == 0) return result;
  auto c = ctx.mm.copy_out(addr, &after, sizeof after);
  return c ? result : -c.error();
}

}  // namespace

// capget(hdr, data): data NULL only asks for the version (0, or EINVAL with
// the preferred version written back).
int64_t sys_capget(SyscallContext& ctx, const SyscallArgs& a) {
  __user_cap_header_struct hdr{};
  if (auto c = ctx.mm.copy_in(&hdr, a.a[0], sizeof hdr); !c) return -c.error();
  const __user_cap_header_struct before = hdr;
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3]{};
  long r = ::syscall(SYS_capget, &hdr, a.a[1] ? data : nullptr);
  int64_t result = r < 0 ? -static_cast<int64_t>(errno) : 0;
  result = header_back(ctx, a.a[0], before, hdr, result);
  if (result == 0 && a.a[1]) {
    int n = cap_data_count(hdr.version);
    auto c = ctx.mm.copy_out(a.a[1], data, n * sizeof data[0]);
    if (!c) return -c.error();
  }
  return result;
}

// capset(hdr, data): the header first, then as many data structs as its
// version takes; the calling thread's sets change (the host thread's).
int64_t sys_capset(SyscallContext& ctx, const SyscallArgs& a) {
  __user_cap_header_struct hdr{};
  if (auto c = ctx.mm.copy_in(&hdr, a.a[0], sizeof hdr); !c) return -c.error();
  const __user_cap_header_struct before = hdr;
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3]{};
  int n = cap_data_count(hdr.version);
  if (n > 0) {
    if (auto c = ctx.mm.copy_in(data, a.a[1], n * sizeof data[0]); !c) return -c.error();
  }
  long r = ::syscall(SYS_capset, &hdr, data);
  int64_t result = r < 0 ? -static_cast<int64_t>(errno) : 0;
  return header_back(ctx, a.a[0], before, hdr, result);
}

// vhangup(): hangs up the controlling terminal (EPERM without
// CAP_SYS_TTY_CONFIG), which is elfuse's, as the guest's is.
int64_t sys_vhangup(SyscallContext&, const SyscallArgs&) {
  return host_rax(::syscall(SYS_vhangup));
}

}  // namespace elfuse
