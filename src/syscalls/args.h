// The argument types of the typed syscall boundary (TYPED rows of
// syscalls.def). Each type says how its register is decoded (narrowed as
// the kernel's parameter of that C type is) and how --trace prints it
// (kTrace). Guest pointers carry the type they point to; their accessors
// live in syscalls/uaccess.h. See docs/internals.md "The syscall boundary".
#pragma once

#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/time.h>
#include <time.h>
#include <utime.h>

#include <concepts>
#include <cstdint>
#include <string>
#include <type_traits>

#include "base/result.h"

namespace elfuse {

class MemoryManager;

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

// An integer parameter of C type V: the register narrowed as the kernel's
// SYSCALL_DEFINE narrows it (an `int` or `unsigned int` is the low 32 bits,
// a `long`, `unsigned long`, `size_t` or `loff_t` the whole register).
// Converts to V, so a handler uses it as the plain integer.
template <typename V, ArgKind K>
struct IntArg {
  static_assert(std::is_integral_v<V>);
  static constexpr ArgKind kTrace = K;
  V v;
  constexpr operator V() const { return v; }  // NOLINT: implicit by design
  static constexpr IntArg decode(uint64_t reg) { return {static_cast<V>(reg)}; }
};

using Int = IntArg<int, ArgKind::kInt>;              // int, printed signed
using UInt = IntArg<unsigned, ArgKind::kUInt>;       // unsigned int
using IntFlags = IntArg<int, ArgKind::kHex>;         // int flags
using UIntFlags = IntArg<unsigned, ArgKind::kHex>;   // unsigned int flags
using ULong = IntArg<uint64_t, ArgKind::kHex>;       // unsigned long, whole
using Size = IntArg<uint64_t, ArgKind::kSize>;       // size_t
using Off = IntArg<int64_t, ArgKind::kOff>;          // loff_t, off_t
using Fd = IntArg<int, ArgKind::kFd>;                // an fd (not yet checked: fs::guest_fd)
using UFd = IntArg<unsigned, ArgKind::kFd>;          // an `unsigned int fd` (close, dup2's newfd)
using DirFd = IntArg<int, ArgKind::kDirFd>;          // a *at dirfd (fs::guest_dirfd)
using OpenFlags = IntArg<int, ArgKind::kOpenFlags>;  // open's flags
using AtFlags = IntArg<int, ArgKind::kAtFlags>;      // AT_* flags
using Whence = IntArg<unsigned, ArgKind::kWhence>;   // lseek's whence
using FcntlCmd = IntArg<unsigned, ArgKind::kFcntlCmd>;  // fcntl's cmd
using IoctlReq = IntArg<unsigned, ArgKind::kIoctlReq>;  // ioctl's `unsigned int cmd`
using Signal = IntArg<int, ArgKind::kSignal>;           // a signal number
using AccessMode = IntArg<int, ArgKind::kAccessMode>;   // access's mode
using SigprocHow = IntArg<int, ArgKind::kSigprocHow>;   // rt_sigprocmask's how
// A mode (umode_t): the register whole, as the handlers hand it to the host,
// which narrows it as Linux does.
using Mode = IntArg<uint64_t, ArgKind::kMode>;
using UMode = IntArg<unsigned, ArgKind::kMode>;        // a mode as an unsigned int
using UAtFlags = IntArg<unsigned, ArgKind::kAtFlags>;  // AT_* flags as unsigned int
using Id = IntArg<unsigned, ArgKind::kInt>;            // uid_t, gid_t (-1: unchanged)
using IntSize = IntArg<int, ArgKind::kSize>;           // an `int` length (readlink's bufsiz)
using ClockId = IntArg<int, ArgKind::kClockId>;        // clockid_t

// A guest address the call reads, writes or just passes on. Only the
// accessors of syscalls/uaccess.h reach the memory behind it.
struct GuestAddr {
  static constexpr ArgKind kTrace = ArgKind::kPtr;
  uint64_t addr;
  static constexpr GuestAddr decode(uint64_t reg) { return {reg}; }
  bool null() const { return addr == 0; }
};

// A T the call reads from the guest (copy a T in).
template <typename T>
struct In : GuestAddr {
  static constexpr In decode(uint64_t reg) { return {{reg}}; }
  Result<T> get(const MemoryManager& mm) const;
};

// A T the call writes to the guest (copy a T out).
template <typename T>
struct Out : GuestAddr {
  static constexpr Out decode(uint64_t reg) { return {{reg}}; }
  Result<void> put(MemoryManager& mm, const T& value) const;
};

// A T the call reads and writes back.
template <typename T>
struct InOut : GuestAddr {
  static constexpr InOut decode(uint64_t reg) { return {{reg}}; }
  Result<T> get(const MemoryManager& mm) const;
  Result<void> put(MemoryManager& mm, const T& value) const;
};

// Bytes whose size the call decides (a buffer with a length argument, a
// struct whose size depends on a command).
struct Bytes : GuestAddr {
  static constexpr Bytes decode(uint64_t reg) { return {{reg}}; }
  Result<void> get(const MemoryManager& mm, void* dst, uint64_t len) const;
  Result<void> put(MemoryManager& mm, const void* src, uint64_t len) const;
};

// A buffer the call reads, its length the next argument (write's buf):
// --trace quotes it before the call.
struct InBuf : Bytes {
  static constexpr ArgKind kTrace = ArgKind::kStrIn;
  static constexpr InBuf decode(uint64_t reg) { return {{{reg}}}; }
};

// A buffer the call fills, as many bytes as it returns (read's buf):
// --trace quotes them after the call.
struct OutBuf : Bytes {
  static constexpr ArgKind kTrace = ArgKind::kStrOut;
  static constexpr OutBuf decode(uint64_t reg) { return {{{reg}}}; }
};

// A NUL-terminated guest path (copy a path in: EFAULT, or ENAMETOOLONG
// without a NUL within PATH_MAX bytes).
struct Path {
  static constexpr ArgKind kTrace = ArgKind::kPath;
  uint64_t addr;
  static constexpr Path decode(uint64_t reg) { return {reg}; }
  Result<std::string> get(const MemoryManager& mm) const;
  // Another limit than PATH_MAX (an xattr name): ENAMETOOLONG without a
  // NUL within max bytes.
  Result<std::string> get(const MemoryManager& mm, uint64_t max) const;
};

// Guest structs the rows name (defined here so that table.h sees them).
struct FdPair {  // pipe's int[2]
  int fd[2];
};
using KernelStat = struct stat;               // x86_64's struct stat is the kernel's
using KernelStatx = struct statx;             // include/uapi/linux/stat.h
using KernelStatfs = struct statfs;           // x86_64's struct statfs is the kernel's
using KernelEpollEvent = struct epoll_event;  // packed on x86_64, as the kernel's
using KernelItimerspec = struct itimerspec;
using KernelTimespec = struct timespec;
using KernelTimeval = struct timeval;
struct TimespecPair {  // utimensat's struct timespec[2]
  struct timespec t[2];
};
struct TimevalPair {  // utimes's and futimesat's struct timeval[2]
  struct timeval t[2];
};
using KernelUtimbuf = struct utimbuf;  // utime's, two longs as the kernel's

// What every argument type of a TYPED row provides.
template <typename T>
concept SyscallArgType = requires(uint64_t reg) {
  { T::decode(reg) } -> std::same_as<T>;
  { T::kTrace } -> std::convertible_to<ArgKind>;
};

// An absent argument (the trailing columns of a TYPED row).
struct None {
  static constexpr ArgKind kTrace = ArgKind::kNone;
};

}  // namespace elfuse
