// The host kernel's newer calls that are neither file-system paths nor
// memory: cachestat, map_shadow_stack, statmount, listmount, the LSM
// attribute calls and uretprobe. Where the answer is the host's (the page
// cache of a guest fd, the mount table, the LSMs of elfuse's process, which
// is the guest's), the host is called with the guest's buffers made host
// addresses (uio::host_span), and with elfuse's own copy of whatever the
// kernel reads twice (a size it then uses as a length).
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include "base/log.h"
#include "kernel/signal.h"
#include "syscalls/fs_common.h"
#include "syscalls/table.h"
#include "syscalls/uio_common.h"

namespace elfuse {

using namespace fs;

namespace {

// glibc 2.36's headers name none of these.
constexpr long kNrCachestat = 451;
constexpr long kNrMapShadowStack = 453;
constexpr long kNrStatmount = 457;
constexpr long kNrListmount = 458;
constexpr long kNrLsmGetSelfAttr = 459;
constexpr long kNrLsmListModules = 461;

// struct cachestat_range and struct cachestat (include/uapi/linux/mman.h).
constexpr uint64_t kCachestatRangeSize = 16;
constexpr uint64_t kCachestatSize = 40;

// struct mnt_id_req (include/uapi/linux/mount.h): the first field is its
// size; MNT_ID_REQ_SIZE_VER0.
constexpr uint32_t kMntIdReqSizeVer0 = 24;
// Largest elfuse buffer for a statmount or listmount answer whose guest
// buffer is not one accessible run.
constexpr uint64_t kBounceMax = uint64_t{1} << 20;

// struct lsm_ctx (include/uapi/linux/lsm.h): id, flags, len, ctx_len.
struct LsmCtx {
  uint64_t id, flags, len, ctx_len;
};
static_assert(sizeof(LsmCtx) == 32);

// copy_mnt_id_req reads the size field, then the whole struct: elfuse
// copies it once (the host reads the copy). A size the kernel refuses
// (E2BIG, EINVAL) needs only the field; an unreadable struct is the
// faulting page.
struct MntIdReq {
  std::vector<unsigned char> bytes;
  const void* ptr = nullptr;
};
MntIdReq copy_mnt_id_req(const MemoryManager& mm, uint64_t addr) {
  MntIdReq r;
  uint32_t usize = 0;
  if (!mm.copy_in(&usize, addr, sizeof usize).ok()) {
    r.ptr = uio::fault_ptr();
    return r;
  }
  if (usize > kPageSize || usize < kMntIdReqSizeVer0) {
    r.bytes.resize(sizeof usize);
    memcpy(r.bytes.data(), &usize, sizeof usize);
  } else {
    r.bytes.resize(usize);
    if (!mm.copy_in(r.bytes.data(), addr, usize).ok()) {
      r.ptr = uio::fault_ptr();
      return r;
    }
    memcpy(r.bytes.data(), &usize, sizeof usize);  // the size elfuse checked
  }
  r.ptr = r.bytes.data();
  return r;
}

// A u32 the kernel reads and writes back (lsm_get_self_attr's and
// lsm_list_modules' size): elfuse's copy goes to the host, the result is
// written back when the host changed it or succeeded.
struct InOutU32 {
  uint32_t value = 0, before = 0;
  bool readable = false;
  bool null = false;  // NULL stays NULL (security_getselfattr: EINVAL)
  uint32_t* host() {
    if (null) return nullptr;
    return readable ? &value : static_cast<uint32_t*>(uio::fault_ptr());
  }
};
InOutU32 copy_in_u32(const MemoryManager& mm, uint64_t addr) {
  InOutU32 v;
  v.null = addr == 0;
  v.readable = mm.copy_in(&v.value, addr, sizeof v.value).ok();
  v.before = v.value;
  return v;
}
int64_t write_back(MemoryManager& mm, uint64_t addr, const InOutU32& v, long r) {
  int64_t result = host_rax(r);
  if (v.readable && (r >= 0 || v.value != v.before)) {
    if (!mm.copy_out(addr, &v.value, sizeof v.value).ok()) return -EFAULT;
  }
  return result;
}

}  // namespace

// cachestat(fd, range, cstat, flags), mm/filemap.c: the host's page cache
// of the guest's fd; the host checks the fd (EBADF), copies the range
// (EFAULT), refuses hugetlbfs (EOPNOTSUPP) and files the caller may not
// ask about (EPERM), then the flags (EINVAL), then writes cstat (EFAULT).
int64_t sys_cachestat(SyscallContext& ctx, const SyscallArgs& a) {
  auto fd = guest_fd(ctx.proc, a.a[0]);
  if (!fd) return -fd.error();
  void* range = uio::host_span(ctx.mm, a.a[1], kCachestatRangeSize, PROT_READ);
  void* out = uio::host_span(ctx.mm, a.a[2], kCachestatSize, PROT_WRITE);
  return host_rax(
      ::syscall(kNrCachestat, static_cast<unsigned>(*fd), range, out, arg_uint(a.a[3])));
}

// map_shadow_stack(addr, size, flags), arch/x86/kernel/shstk.c: elfuse
// gives the guest no CET, so the answer is the first check's, EOPNOTSUPP
// (no X86_FEATURE_USER_SHSTK), or ENOSYS when the host kernel is built
// without the call (CONFIG_X86_USER_SHADOW_STACK off): asked once with
// flags the kernel refuses, so nothing is ever mapped.
int64_t sys_map_shadow_stack(SyscallContext&, const SyscallArgs&) {
  static const bool host_has_call = [] {
    long r = ::syscall(kNrMapShadowStack, 0, 0, ~0u);
    return !(r < 0 && errno == ENOSYS);
  }();
  return host_has_call ? -EOPNOTSUPP : -ENOSYS;
}

// statmount(req, buf, bufsize, flags), fs/namespace.c: the host's answer
// for the host's mount table, as /proc/self/mountinfo is (also under
// --sysroot). The host writes the guest's buffer.
int64_t sys_statmount(SyscallContext& ctx, const SyscallArgs& a) {
  MntIdReq req = copy_mnt_id_req(ctx.mm, a.a[0]);
  const uint64_t bufsize = a.a[2];
  void* buf = uio::host_span(ctx.mm, a.a[1], bufsize, PROT_WRITE);
  if (buf != uio::fault_ptr() || !linux_access_ok(a.a[1], bufsize))
    return host_rax(::syscall(kNrStatmount, req.ptr, buf, bufsize, arg_uint(a.a[3])));
  // A buffer larger than the guest's memory behind it: the kernel writes
  // only what the answer needs (its size field), so elfuse's buffer takes
  // it and the guest gets those bytes (EFAULT where they do not fit).
  std::vector<unsigned char> bounce(std::min<uint64_t>(bufsize, kBounceMax));
  long r = ::syscall(kNrStatmount, req.ptr, bounce.data(), bounce.size(), arg_uint(a.a[3]));
  if (r < 0) return -static_cast<int64_t>(errno);
  uint32_t used = 0;
  memcpy(&used, bounce.data(), sizeof used);
  if (!ctx.mm.copy_out(a.a[1], bounce.data(), std::min<uint64_t>(used, bounce.size())).ok())
    return -EFAULT;
  return r;
}

// listmount(req, mnt_ids, nr_mnt_ids, flags): as statmount. A count too
// large for the kernel (EOVERFLOW) is the host's to refuse.
int64_t sys_listmount(SyscallContext& ctx, const SyscallArgs& a) {
  MntIdReq req = copy_mnt_id_req(ctx.mm, a.a[0]);
  const uint64_t nr = a.a[2];
  const unsigned flags = arg_uint(a.a[3]);
  if (nr > uint64_t{INT32_MAX} / 8 || a.a[1] == 0 || !linux_access_ok(a.a[1], nr * 8)) {
    void* ids = a.a[1] == 0 ? nullptr : uio::fault_ptr();
    return host_rax(::syscall(kNrListmount, req.ptr, ids, nr, flags));
  }
  void* ids = uio::host_span(ctx.mm, a.a[1], nr * 8, PROT_WRITE);
  if (ids != uio::fault_ptr()) return host_rax(::syscall(kNrListmount, req.ptr, ids, nr, flags));
  // As statmount's bounce: the kernel writes only the ids it returns.
  std::vector<uint64_t> bounce(std::min<uint64_t>(nr, kBounceMax / 8));
  long r = ::syscall(kNrListmount, req.ptr, bounce.data(), bounce.size(), flags);
  if (r < 0) return -static_cast<int64_t>(errno);
  if (!ctx.mm.copy_out(a.a[1], bounce.data(), static_cast<uint64_t>(r) * 8).ok()) return -EFAULT;
  return r;
}

// lsm_get_self_attr(attr, ctx, size, flags), security/lsm_syscalls.c: the
// host's LSMs about elfuse's process, which is the guest's. The size is
// read once by elfuse (the host fills at most that much of ctx).
int64_t sys_lsm_get_self_attr(SyscallContext& ctx, const SyscallArgs& a) {
  InOutU32 size = copy_in_u32(ctx.mm, a.a[2]);
  void* buf = uio::host_span(ctx.mm, a.a[1], size.value, PROT_WRITE);
  long r = ::syscall(kNrLsmGetSelfAttr, arg_uint(a.a[0]), buf, size.host(), arg_uint(a.a[3]));
  return write_back(ctx.mm, a.a[2], size, r);
}

// lsm_set_self_attr(attr, ctx, size, flags), security/security.c
// security_setselfattr: flags (EINVAL), the size (EINVAL below struct
// lsm_ctx, E2BIG above a page), the copy (EFAULT), the lengths inside it
// (EINVAL); then the LSM named by its id would act: elfuse answers as when
// none takes it (EOPNOTSUPP), so elfuse's own attributes never change.
int64_t sys_lsm_set_self_attr(SyscallContext& ctx, const SyscallArgs& a) {
  const uint32_t size = arg_uint(a.a[2]);
  if (arg_uint(a.a[3]) != 0) return -EINVAL;
  if (size < sizeof(LsmCtx)) return -EINVAL;
  if (size > kPageSize) return -E2BIG;
  std::vector<unsigned char> buf(size);
  if (!ctx.mm.copy_in(buf.data(), a.a[1], size).ok()) return -EFAULT;
  LsmCtx lctx;
  memcpy(&lctx, buf.data(), sizeof lctx);
  // size_add saturates: a huge ctx_len makes required_len too big.
  const uint64_t required =
      lctx.ctx_len > UINT64_MAX - sizeof(LsmCtx) ? UINT64_MAX : sizeof(LsmCtx) + lctx.ctx_len;
  if (size < lctx.len || size < required || lctx.len < required) return -EINVAL;
  return -EOPNOTSUPP;
}

// lsm_list_modules(ids, size, flags): the host's LSMs, as for
// lsm_get_self_attr.
int64_t sys_lsm_list_modules(SyscallContext& ctx, const SyscallArgs& a) {
  InOutU32 size = copy_in_u32(ctx.mm, a.a[1]);
  void* ids = uio::host_span(ctx.mm, a.a[0], size.value, PROT_WRITE);
  long r = ::syscall(kNrLsmListModules, ids, size.host(), arg_uint(a.a[2]));
  return write_back(ctx.mm, a.a[1], size, r);
}

// uretprobe(), arch/x86/kernel/uprobes.c: only the uretprobe trampoline
// the kernel maps for a uprobe may call it; elfuse's guests have no
// uprobes, so every caller is the wrong one: force_sig(SIGILL) (a handler
// runs if installed and unblocked; blocked or ignored, the default action
// kills) and the call returns -1.
int64_t sys_uretprobe(SyscallContext& ctx, const SyscallArgs&) {
  if (ctx.on_worker) {
    ctx.refuse = true;
    return 0;
  }
  signals_force(ctx.proc, ctx.thread, SIGILL);
  return -1;
}

}  // namespace elfuse
