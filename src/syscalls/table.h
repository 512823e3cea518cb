// The syscall table derived from syscalls.def: handler declarations, the
// per-number info used by dispatch, --trace and the docs generator.
#pragma once

#include <cstdint>

#include "syscalls/syscall.h"

namespace elfuse {

// kFull: Linux semantics. kPartial: with the limits its note names.
// kRefused: answers as Linux answers a caller without the needed privilege,
// or a kernel without the feature (the note says which), with Linux's
// argument checks first. kAbsent: -ENOSYS without a word, as the Linux its
// note names (x86_64's unused numbers, features configured out). kEnosys:
// not implemented yet: -ENOSYS and a one-line notice on stderr.
enum class SyscallStatus { kFull, kPartial, kRefused, kAbsent, kEnosys };

// How --trace prints an argument. Kinds that need the result (kBufOut,
// kStructOut) are printed after the call.
enum class ArgKind : uint8_t {
  kNone,
  kInt,        // signed decimal
  kUInt,       // unsigned decimal
  kHex,        // 0x...
  kPtr,        // NULL or 0x...
  kFd,         // decimal fd
  kDirFd,      // AT_FDCWD or decimal
  kPath,       // NUL-terminated guest string, quoted
  kStrIn,      // guest buffer whose length is the next argument, quoted (truncated)
  kStrOut,     // guest buffer filled by the call; length = result; quoted
  kSize,       // unsigned decimal
  kOff,        // signed decimal offset
  kOpenFlags,  // O_RDONLY|O_CLOEXEC...
  kMode,       // 0644
  kProt,       // PROT_READ|PROT_WRITE
  kMmapFlags,  // MAP_PRIVATE|MAP_ANONYMOUS
  kSignal,     // SIGINT
  kClockId,    // CLOCK_MONOTONIC
  kAtFlags,    // AT_SYMLINK_NOFOLLOW...
  kWhence,     // SEEK_SET
  kFcntlCmd,   // F_GETFL
  kIoctlReq,   // TCGETS
  kArchPrctl,  // ARCH_SET_FS
  kMadvise,    // MADV_DONTNEED
  kMremapFlags,
  kAccessMode,  // F_OK|R_OK
  kPrctlOp,
  kSigprocHow,  // SIG_BLOCK
};

struct SyscallInfo {
  uint16_t nr;
  const char* name;
  SyscallStatus status;
  SyscallHandler handler;  // nullptr for kAbsent and kEnosys
  ArgKind args[6];
};

// nullptr for numbers Linux does not have.
const SyscallInfo* syscall_info(uint64_t nr);

#define ELFUSE_DECLARE_kFull(name) int64_t sys_##name(SyscallContext&, const SyscallArgs&);
#define ELFUSE_DECLARE_kPartial(name) ELFUSE_DECLARE_kFull(name)
#define ELFUSE_DECLARE_kRefused(name) ELFUSE_DECLARE_kFull(name)
#define ELFUSE_DECLARE_kAbsent(name)
#define ELFUSE_DECLARE_kEnosys(name)
#define SYSCALL(nr, name, status, ...) ELFUSE_DECLARE_##status(name)
#include "syscalls/syscalls.def"
#undef SYSCALL

}  // namespace elfuse
