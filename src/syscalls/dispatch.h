// From a syscall exit to its handler: the one entry point the run loop calls.
#pragma once

#include <cstdio>

#include "syscalls/syscall.h"

namespace elfuse {

// Runs the handler of args.nr; -ENOSYS (reported once per number) when
// elfuse has none. Traces the call when tracing is on.
int64_t dispatch_syscall(SyscallContext& ctx, const SyscallArgs& args);

// --trace: where lines go (nullptr: tracing off, the default).
void set_trace_output(FILE* out);

}  // namespace elfuse
