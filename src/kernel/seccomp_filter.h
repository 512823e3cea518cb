// seccomp filters of the guest (SECCOMP_MODE_FILTER), run by elfuse: a
// guest's classic BPF program is never installed on the host (it would
// filter elfuse itself). This file is the pure part: the install-time
// checks (net/core/filter.c bpf_check_classic, kernel/seccomp.c
// seccomp_check_filter), the interpreter over struct seccomp_data, and the
// stack of a thread's filters (seccomp_run_filters). The syscall side is
// src/syscalls/sys_sandbox.cc; enforcement is in src/syscalls/dispatch.cc.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace elfuse {

// struct sock_filter.
struct BpfInsn {
  uint16_t code;
  uint8_t jt;
  uint8_t jf;
  uint32_t k;
};
static_assert(sizeof(BpfInsn) == 8);

// struct seccomp_data (include/uapi/linux/seccomp.h).
struct SeccompData {
  int32_t nr;
  uint32_t arch;
  uint64_t instruction_pointer;
  uint64_t args[6];
};
static_assert(sizeof(SeccompData) == 64);

constexpr uint32_t kAuditArchX86_64 = 0xc000003e;  // AUDIT_ARCH_X86_64
constexpr unsigned kBpfMaxInsns = 4096;            // BPF_MAXINSNS
constexpr unsigned kMaxInsnsPerPath = 32768;       // MAX_INSNS_PER_PATH
constexpr unsigned kMaxErrno = 4095;               // MAX_ERRNO

// 0, or -EINVAL for a program seccomp refuses: length 0 or above
// BPF_MAXINSNS, an instruction outside seccomp's set, a jump past the
// end, a load outside struct seccomp_data or unaligned, a division or
// modulo by the constant 0, a shift by 32 or more, a scratch cell out of
// range or read before every path wrote it, a last instruction that is
// not a RET. Rewrites the length loads as the kernel does (LEN is
// sizeof(struct seccomp_data)).
int seccomp_check_program(std::vector<BpfInsn>& prog);

// The length of the kernel's translation of a checked program to eBPF
// (net/core/filter.c bpf_convert_filter: 3 instructions of prologue, 2 for
// RET K, 5 for DIV or MOD by X, 1 or 2 for a conditional jump, plus 1 when
// its constant is negative as an int, 1 for the others): what
// MAX_INSNS_PER_PATH counts.
unsigned seccomp_converted_len(const std::vector<BpfInsn>& prog);

// Runs a checked program over `data`: its return value.
uint32_t seccomp_run_program(const std::vector<BpfInsn>& prog, const SeccompData& data);

// One installed filter; `prev` is the one installed before it (shared by
// the threads and processes that inherited it).
struct SeccompFilter {
  std::vector<BpfInsn> prog;
  unsigned converted_len = 0;  // seccomp_converted_len(prog)
  std::shared_ptr<const SeccompFilter> prev;
  bool log = false;  // SECCOMP_FILTER_FLAG_LOG
};

// Every filter of the stack runs; the lowest action (compared as signed,
// ACTION_ONLY) wins, the newest filter's among equal ones
// (seccomp_run_filters): KILL_PROCESS < KILL_THREAD < TRAP < ERRNO <
// USER_NOTIF < TRACE < LOG < ALLOW.
uint32_t seccomp_run_filters(const SeccompFilter* newest, const SeccompData& data);

// The number of filters in the stack (Seccomp_filters in
// /proc/PID/status), and the instruction count MAX_INSNS_PER_PATH limits
// (each filter's converted length plus 4).
unsigned seccomp_filter_count(const SeccompFilter* newest);
unsigned seccomp_path_insns(const SeccompFilter* newest);
// `ancestor` is `f` or one of the filters below it (is_ancestor).
bool seccomp_is_ancestor(const SeccompFilter* ancestor, const SeccompFilter* f);

}  // namespace elfuse
