// elfuse's own host descriptors (KVM, trace file...) live at or above a
// floor the guest never reaches; guest descriptors are host descriptors
// below it (docs/internals.md, "File descriptors").
#pragma once

#include <cstdint>

namespace elfuse {

void set_private_fd_floor(int floor);
int private_fd_floor();
// Moves fd to the lowest free descriptor >= the floor, close-on-exec, and
// closes the original. Returns the new descriptor, or -1 with errno. The
// object a moved fd holds is remembered (not directories, not KVM's
// anonymous inodes), so that private_object_kind can recognise it when a
// guest reaches it again through a magic link (/proc/self/fd/N named by a
// symlink of its own).
int move_to_private_fd(int fd);

// Whether `fd`, just opened for the guest, is the same object as one of
// elfuse's remembered private descriptors that is still open: kAnonymous
// (a pipe, a socket, a memfd: only a magic link to elfuse's descriptor
// reaches it), kNamed (a device node such as /dev/kvm, or a named file such
// as the trace file: a path names it too), kNone. One fstat when it is
// none of them.
enum class PrivateKind { kNone, kAnonymous, kNamed };
PrivateKind private_object_kind(int fd);

}  // namespace elfuse

namespace elfuse {

// Where elfuse's descriptors go and what RLIMIT_NOFILE the guest sees,
// from elfuse's host limits at start. The guest can use every descriptor
// below the hard limit it reads: the floor is never below it.
//  - raised: elfuse could set its own host limit to hard + kPrivateFds (it
//    may: CAP_SYS_RESOURCE and fs.nr_open allowing it; only tried for a
//    hard limit <= kMaxFdFloor): the guest keeps the host's limits, the
//    floor is the hard limit.
//  - otherwise the private descriptors take the top kPrivateFds of the
//    host's hard limit (the floor is at most kMaxFdFloor, which keeps the
//    kernel's descriptor table small), and the guest's limits are lowered
//    to the floor.
struct FdPlan {
  int floor;
  uint64_t guest_soft, guest_hard;
  uint64_t host_soft, host_hard;  // elfuse's own RLIMIT_NOFILE then
};
// Room above the floor: a vCPU descriptor per guest thread (up to
// SHIM_MAX_VCPUS = 1024) plus elfuse's others.
inline constexpr uint64_t kPrivateFds = 1024 + 128;
inline constexpr uint64_t kMaxFdFloor = 65536;
FdPlan plan_fd_floor(uint64_t soft, uint64_t hard, bool raised);

}  // namespace elfuse
