// From a syscall exit to its handler: dispatch_syscall (declared in
// kernel/syscall_entry.h, the one entry point the run loop calls) and the
// trace switch.
#pragma once

#include <cstdio>

#include "kernel/syscall_entry.h"
#include "syscalls/syscall.h"

namespace elfuse {

// --trace: where lines go (nullptr: tracing off, the default).
void set_trace_output(FILE* out);

}  // namespace elfuse
