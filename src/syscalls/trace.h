// --trace: one strace-style line per guest syscall, decoded from the
// ArgKinds of its row in syscalls.def:
//   openat(AT_FDCWD, "/etc/passwd", O_RDONLY|O_CLOEXEC) = 3
//   read(3, "root:x:0:0:root:/root:/bin/bash\n"..., 4096) = 1221
//   close(1000) = -1 EBADF (Bad file descriptor)
//   exit_group(0) = ?
//
// Two phases, because input strings (paths, write buffers) must show what
// the guest passed, before the call could change or unmap them, while
// output buffers (read, readlink, getcwd) only exist after it. The run loop
// (syscalls/dispatch.cc) does:
//   TraceRecord rec = trace_begin(ctx, args);     // before the handler
//   if (rec.no_return) trace_end(out, rec, 0);    // exit, exit_group: "= ?"
//   int64_t rax = handler(ctx, args);
//   if (!rec.no_return) trace_end(out, rec, rax);  // reads ctx.outcome too
//
// The formatting core reads guest memory only through a GuestReader, so
// tests drive it with a fake memory and no VM.
#pragma once

#include <array>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>

#include "base/result.h"
#include "syscalls/syscall.h"
#include "syscalls/table.h"

namespace elfuse {

class MemoryManager;

// Exactly len bytes of guest memory at addr, or an errno (EFAULT) when any
// of them is not readable. Called with small lengths (<= a page).
using GuestReader = std::function<Result<std::string>(uint64_t addr, uint64_t len)>;

struct TraceRecord {
  SyscallArgs args{};
  const SyscallInfo* info = nullptr;  // nullptr: a number Linux does not have
  // Arguments rendered at trace_begin (kPath, kStrIn); empty = render later.
  std::array<std::string, 6> early{};
  // exit and exit_group: the line is written before the call ("= ?").
  bool no_return = false;
  // Guest memory, for buffers the call fills (kStrOut).
  GuestReader read;
  // The handler's ctx.outcome, looked at when the line is finished
  // (execve that replaced the program prints "= 0"); null = kReturn.
  const Outcome* outcome = nullptr;
};

// Formatting core (no VM needed).
TraceRecord trace_begin(const SyscallInfo* info, GuestReader read, const SyscallArgs& args);
TraceRecord trace_begin(GuestReader read, const SyscallArgs& args);  // info from the table
// The whole line, without the trailing newline.
std::string trace_format(const TraceRecord& rec, int64_t result);
// Writes trace_format(...) and a newline with a single stdio call, so lines
// of concurrent guest threads do not interleave.
void trace_end(FILE* out, const TraceRecord& rec, int64_t result);

// Reading guest memory through the process's MemoryManager; the record
// refers to ctx (its MemoryManager and outcome) until trace_end.
GuestReader guest_reader(const MemoryManager& mm);
TraceRecord trace_begin(SyscallContext& ctx, const SyscallArgs& args);

// Exposed for tests: strace's quoting of a byte string, truncated at
// max_chars with "..." after the closing quote when `truncated`.
std::string trace_quote(const std::string& bytes, bool truncated);

}  // namespace elfuse
