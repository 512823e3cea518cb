// POSIX per-process timers (timer_create and friends, sys_posix_timer.cc):
// the host's own timers, so only execve needs a hook.
#pragma once

namespace elfuse {

// fs/exec.c begin_new_exec -> exit_itimers: execve deletes every POSIX
// timer of the process (interval timers, setitimer's, are kept).
void posix_timers_on_exec();

}  // namespace elfuse
