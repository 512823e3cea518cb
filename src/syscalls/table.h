// The syscall table derived from syscalls.def: handler declarations, the
// per-number info used by dispatch, --trace and the docs generator.
#pragma once

#include <cstdint>

#include "syscalls/args.h"
#include "syscalls/syscall.h"
#include "syscalls/typed.h"

namespace elfuse {

// kFull: Linux semantics. kPartial: with the limits its note names.
// kRefused: answers as Linux answers a caller without the needed privilege,
// or a kernel without the feature (the note says which), with Linux's
// argument checks first. kAbsent: -ENOSYS without a word, as the Linux its
// note names (x86_64's unused numbers, features configured out). kEnosys:
// not implemented yet: -ENOSYS and a one-line notice on stderr.
enum class SyscallStatus { kFull, kPartial, kRefused, kAbsent, kEnosys };

// The per-row rules of syscalls.def (docs/internals.md "The syscall
// boundary"). Restart: the code Linux's syscall returns when a signal
// interrupts it (kernel/syscall_policy.h Restart), fixed or decided from the
// arguments by the rule's function in syscalls/policy.cc.
enum class RestartRule : uint8_t {
  rNone,        // EINTR as is
  rSys,         // -ERESTARTSYS
  rNoHand,      // -ERESTARTNOHAND
  rBlock,       // -ERESTART_RESTARTBLOCK
  rFutex,       // by op: LOCK_PI NOINTR, timed WAIT(_BITSET) RESTARTBLOCK, else SYS
  rPoll,        // negative timeout NOHAND, else RESTARTBLOCK
  rClockSleep,  // TIMER_ABSTIME NOHAND, else RESTARTBLOCK
};

// Whether the thread's exitless worker may serve the call (kernel/exitless.h):
// never, always, or when the arguments say so (syscalls/policy.cc).
enum class WorkerRule : uint8_t {
  wNo,
  wYes,
  wFd,     // the read/write family: the fd (argument 0) is a plain file
  wFcntl,  // fcntl commands without locks or owners
  wIoctl,  // TCGETS, TIOCGWINSZ, FIONREAD
  wPath0,  // the path (argument 0) is not an absolute /proc path
  wPath1,  // the path (argument 1) is not an absolute /proc path
};

// How --trace prints the call beyond its argument kinds.
enum class TraceStyle : uint8_t {
  tPlain,
  tExit,    // exit, exit_group: printed before the call, "= ?"
  tExec,    // execve: "= 0" when the program was replaced
  tAddr,    // the result is an address (hex)
  tOctal,   // the result is a mode (umask)
  tFcntl,   // fcntl: the argument and result by command
  tOpen,    // the open flags include the access mode
  tAccess,  // AT_ flags with AT_EACCESS (faccessat)
  tStatx,   // statx's AT_STATX_* flags
  tLink,    // the kStrOut buffer is a path (readlink): up to PATH_MAX shown
  tCwd,     // getcwd: the result counts the NUL
};

struct SyscallInfo {
  uint16_t nr;
  const char* name;
  SyscallStatus status;
  SyscallHandler handler;  // nullptr for kAbsent and kEnosys
  ArgKind args[6];
  TraceStyle trace = TraceStyle::tPlain;
  RestartRule restart = RestartRule::rNone;
  WorkerRule worker = WorkerRule::wNo;
  bool typed = false;  // a TYPED row: the handler is Thunk<&sys_name>::call
};

// nullptr for numbers Linux does not have.
const SyscallInfo* syscall_info(uint64_t nr);

#define ELFUSE_DECLARE_kFull(name) int64_t sys_##name(SyscallContext&, const SyscallArgs&);
#define ELFUSE_DECLARE_kPartial(name) ELFUSE_DECLARE_kFull(name)
#define ELFUSE_DECLARE_kRefused(name) ELFUSE_DECLARE_kFull(name)
#define ELFUSE_DECLARE_kAbsent(name)
#define ELFUSE_DECLARE_kEnosys(name)
#define SYSCALL(nr, name, status, ...) ELFUSE_DECLARE_##status(name)
#define TYPED(nr, name, status, restart, worker, trace, result, ...) \
  TypedHandler<result, __VA_ARGS__> sys_##name;
#include "syscalls/syscalls.def"
#undef SYSCALL
#undef TYPED

}  // namespace elfuse
