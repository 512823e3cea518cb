// The one entry point from the kernel layer into the syscall handlers: the
// run loop and the exitless worker call it; src/syscalls/dispatch.cc
// defines it (the layers: docs/internals.md, "The shape").
#pragma once

#include <cstdint>

#include "kernel/syscall_context.h"

namespace elfuse {

// Runs the handler of args.nr; -ENOSYS (reported once per number) when
// elfuse has none. Traces the call when tracing is on.
int64_t dispatch_syscall(SyscallContext& ctx, const SyscallArgs& args);

}  // namespace elfuse
