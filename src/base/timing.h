// ELFUSE_TIMING=1 in elfuse's environment: one line on stderr per phase of
// start-up, fork and thread creation (docs/performance.md, "Where start-up
// and fork time goes"). For measurements only, not a user option.
#pragma once

#include <cstdint>

namespace elfuse {

bool timing_enabled();
// "elfuse-timing: PID TID MONO_US THREAD_CPU_US WHAT": CLOCK_MONOTONIC (to
// line up with timestamps taken outside elfuse) and the calling thread's
// CPU time, both in microseconds.
void timing_mark_slow(const char* what);
inline void timing_mark(const char* what) {
  if (__builtin_expect(timing_enabled(), 0)) timing_mark_slow(what);
}

}  // namespace elfuse

namespace elfuse {

// ELFUSE_TIMING=1 also counts every return from the guest by kind and the
// time spent in the guest (KVM_RUN) and on the host between two runs;
// timing_print_exits() prints them (at exit_group).
enum class TimingExit { kTrap, kTakenBack, kClaimed, kAnswered, kFault, kInterrupted, kCount };
void timing_count_exit(TimingExit kind, uint64_t nr, int64_t guest_ns, int64_t host_ns);
void timing_print_exits();
void timing_reset_exits();  // a forked child counts its own
int64_t timing_now_ns();

}  // namespace elfuse
