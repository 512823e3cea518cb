// elfuse's own host descriptors (KVM, trace file...) live at or above a
// floor the guest never reaches; guest descriptors are host descriptors
// below it (docs/internals.md, "File descriptors").
#pragma once

namespace elfuse {

void set_private_fd_floor(int floor);
int private_fd_floor();
// Moves fd to the lowest free descriptor >= the floor, close-on-exec, and
// closes the original. Returns the new descriptor, or -1 with errno.
int move_to_private_fd(int fd);

}  // namespace elfuse
