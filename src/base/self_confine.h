// elfuse confines itself: after start-up every host thread of elfuse runs
// under a seccomp filter (with no_new_privs) that refuses the host syscalls
// neither elfuse nor its forwarding of guest calls ever makes, so that a bug
// in a handler is not a way into the host kernel's most exposed interfaces
// (docs/internals.md, "Self-confinement"; docs/security.md).
//
// The policy is a deny list: everything elfuse calls keeps working, and what
// it never calls is refused. Two actions:
//   kill   SECCOMP_RET_KILL_PROCESS, for calls no code path of elfuse makes
//          (ptrace, bpf, module loading, mount, execve...): reaching one
//          means elfuse's own control flow or a handler's forwarding is
//          already wrong, and going on would let an exploit try again;
//   errno  SECCOMP_RET_ERRNO, for calls elfuse makes only in a restricted
//          form (clone and unshare without namespace flags, KVM ioctls it
//          uses, the mount API's probes that can only fail): outside that
//          form the call fails with the answer elfuse's handler documents
//          for the guest (EPERM), so a forwarding bug still gives the
//          guest elfuse's policy rather than a dead process.
// ELFUSE_NO_CONFINE=1 in elfuse's environment leaves the filter out (for
// debugging elfuse itself, e.g. under strace or gdb, which need ptrace).
#pragma once

#include <linux/filter.h>

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace elfuse {

// The path the mount API's probes pass (src/syscalls/sys_mount.cc): "", never
// with an *_EMPTY_PATH flag, so the host's lookup fails with ENOENT after the
// checks the probe wants. The filter lets those calls through only with this
// very pointer.
extern const char kMountProbePath[];

namespace confine {

enum class Action : uint8_t {
  kAllow,
  kKill,    // SECCOMP_RET_KILL_PROCESS
  kEperm,   // SECCOMP_RET_ERRNO | EPERM
  kEnosys,  // SECCOMP_RET_ERRNO | ENOSYS
};

// One syscall the filter refuses outright.
struct DeniedCall {
  int nr;
  const char* name;
  Action action;
};

// The calls refused whatever their arguments.
std::span<const DeniedCall> denied_calls();

// The KVM ioctl numbers elfuse makes (src/hv); any other request of KVM's
// type (0xAE) is EPERM.
std::span<const uint32_t> kvm_ioctls();

// The filter program (pure: built from the tables above and the address of
// kMountProbePath).
std::vector<sock_filter> build_filter();

// What the filter decides for a call, by running the program in a small
// classic-BPF interpreter (for tests and the documentation table): the
// SECCOMP_RET_* value.
uint32_t evaluate(std::span<const sock_filter> prog, int nr, const uint64_t (&args)[6],
                  uint32_t arch = 0xc000003e /* AUDIT_ARCH_X86_64 */);

// prctl(PR_SET_NO_NEW_PRIVS) and the filter on every thread of this process
// (SECCOMP_FILTER_FLAG_TSYNC); threads and children created later inherit
// it. Returns 0 or an errno (ESRCH: another thread could not be synchronised).
int install(std::span<const sock_filter> prog);

// Whether ELFUSE_NO_CONFINE asks for no filter (set, and not "0" or empty).
bool disabled_by_environment();

// start-up: install() unless disabled; fatal on failure.
void confine_self();

// Whether confine_self() installed the filter (for diagnostics).
bool confined();

}  // namespace confine
}  // namespace elfuse
