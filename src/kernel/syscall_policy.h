// What the kernel side asks of a syscall by its number and arguments, from
// the rows of src/syscalls/syscalls.def (declared here, defined in
// src/syscalls/policy.cc, so kernel/ needs no syscall header).
#pragma once

#include <sys/types.h>

#include <cstdint>

namespace elfuse {

class Process;
struct SyscallArgs;

// Which internal code Linux returns when a signal interrupts the call (the
// host turns all of them into EINTR, as elfuse's host handlers have no
// SA_RESTART). kSys: -ERESTARTSYS, restarted unless a handler without
// SA_RESTART runs; kNoIntr: -ERESTARTNOINTR, always restarted; kNoHand:
// -ERESTARTNOHAND, restarted only if no handler runs; kBlock:
// -ERESTART_RESTARTBLOCK, restart_syscall (sleeps with a timeout); kNone:
// EINTR as is.
enum class Restart { kNone, kSys, kNoIntr, kNoHand, kBlock };

// The row's restart class for these arguments (kNone for numbers Linux
// does not have).
Restart syscall_restart_class(const SyscallArgs& a);

// Whether a thread's exitless worker may ever serve syscall `nr` (the
// guest entry's allowlist).
bool syscall_worker_allowed(uint64_t nr);

// Whether the worker may serve this call, allowed by number, with these
// arguments: no tty or anonymous-inode fd for the read/write family
// (anon_dev: the st_dev of anonymous-inode files, nullptr when unknown), no
// absolute /proc path, no fcntl lock or owner, only the harmless ioctls.
bool syscall_worker_may_serve(Process& proc, const SyscallArgs& a, const dev_t* anon_dev);

}  // namespace elfuse
