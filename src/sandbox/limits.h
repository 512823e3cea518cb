// The sandbox controls that act inside the sandbox's first elfuse process
// before its guest starts (issue 17): the guest's initial limits
// (--cpu-time, --max-file-size, --nofile) and working directory
// (--workdir). An option elfuse cannot honour here is refused with a
// message and exit status 125, before the guest runs.
// docs/internals.md, "Sandbox controls".
#pragma once

#include <string>

#include "cli/options.h"
#include "kernel/process.h"

namespace elfuse {
class Sysroot;
namespace sandbox {

// --cpu-time and --max-file-size set the host limits of this elfuse
// process (RLIMIT_CPU and RLIMIT_FSIZE are passed through to the host:
// src/mm/guest_limits.h), inherited by every fork; --nofile sets the
// guest's RLIMIT_NOFILE, elfuse's own bookkeeping (FdRules).
void apply_limits(const Options& o, FdRules& fds);

// --workdir DIR: the initial cwd; with a sysroot DIR is resolved inside
// it (the cwd is its / at this point).
void enter_workdir(const std::string& dir, const Sysroot* root);

}  // namespace sandbox
}  // namespace elfuse
