// Interval timers: alarm, getitimer, setitimer. A guest process is one
// host process, so its timers are the host's: the signals they raise
// (SIGALRM, SIGVTALRM, SIGPROF) go to the host process, where elfuse's
// signal code handles them like any other signal. CPU-time timers count
// elfuse's work for the guest too, as the CPU-time clocks do (sys_clock.cc).
// POSIX timers are in sys_posix_timer.cc, timerfd in sys_event.cc.
#include <sys/syscall.h>
#include <sys/time.h>
#include <unistd.h>

#include "syscalls/fs_common.h"
#include "syscalls/table.h"

namespace elfuse {

using namespace fs;

static_assert(sizeof(struct itimerval) == 32);

// alarm(seconds): never fails; returns the seconds left on the old alarm.
int64_t sys_alarm(SyscallContext&, const SyscallArgs& a) {
  return host_rax(::syscall(SYS_alarm, arg_uint(a.a[0])));
}

// getitimer(which, curr): EINVAL for an unknown timer before the store
// (EFAULT), kernel/time/itimer.c.
int64_t sys_getitimer(SyscallContext& ctx, const SyscallArgs& a) {
  struct itimerval v {};
  if (::syscall(SYS_getitimer, arg_int(a.a[0]), &v) < 0) return -static_cast<int64_t>(errno);
  auto c = ctx.mm.copy_out(a.a[1], &v, sizeof(v));
  return c ? 0 : -c.error();
}

// setitimer(which, new, old), kernel/time/itimer.c: the new value is read
// first (EFAULT); a NULL new value is a zero one (a "misfeature" Linux still
// accepts, disarming the timer); the old value is stored last (EFAULT, with
// the timer already set, as in Linux). The host validates tv_usec (EINVAL).
int64_t sys_setitimer(SyscallContext& ctx, const SyscallArgs& a) {
  struct itimerval nv {};
  if (a.a[1] != 0) {
    auto c = ctx.mm.copy_in(&nv, a.a[1], sizeof(nv));
    if (!c) return -c.error();
  }
  struct itimerval ov {};
  if (::syscall(SYS_setitimer, arg_int(a.a[0]), &nv, a.a[2] ? &ov : nullptr) < 0)
    return -static_cast<int64_t>(errno);
  if (a.a[2] == 0) return 0;
  auto c = ctx.mm.copy_out(a.a[2], &ov, sizeof(ov));
  return c ? 0 : -c.error();
}

}  // namespace elfuse
