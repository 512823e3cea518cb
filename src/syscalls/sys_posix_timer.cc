// POSIX per-process timers: timer_create, timer_settime, timer_gettime,
// timer_getoverrun, timer_delete (kernel/time/posix-timers.c).
//
// A guest process is one host process and a guest tid is a host tid, so the
// timers are the host's: struct sigevent has the same layout, SIGEV_SIGNAL
// sends to the host process, SIGEV_THREAD_ID to the host thread that runs
// the guest thread (the host checks that the tid is in this thread group),
// SIGEV_NONE sends nothing. The signal arrives as a host signal with
// si_code SI_TIMER, si_timerid, si_overrun and si_value filled in by the
// host kernel; elfuse's host handler copies the whole siginfo into the
// guest's frame (kernel/signal_frame.cc), and rt_sigtimedwait/signalfd read it
// from the host directly. Timer ids are the host's ids. Timers are not
// inherited by fork (neither are the host's); execve deletes them
// (posix_timers_on_exec).
#include <signal.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>

#include "kernel/exec.h"
#include "syscalls/fs_common.h"
#include "syscalls/table.h"

namespace elfuse {

using namespace fs;

// include/uapi/asm-generic/siginfo.h: struct sigevent is 64 bytes on
// x86-64 (SIGEV_MAX_SIZE), the same for guest and host.
static_assert(sizeof(struct sigevent) == 64);
static_assert(sizeof(struct itimerspec) == 32);

// timer_create(clockid, sevp, timerid): the sigevent is read first (EFAULT);
// a NULL sevp is the kernel's default (SIGEV_SIGNAL, SIGALRM, sival_int = id),
// made by the host. The id is stored after the timer exists; a store that
// fails deletes the timer again and is EFAULT, as do_timer_create does.
int64_t sys_timer_create(SyscallContext& ctx, const SyscallArgs& a) {
  struct sigevent ev {};
  if (a.a[1] != 0) {
    auto c = ctx.mm.copy_in(&ev, a.a[1], sizeof(ev));
    if (!c) return -c.error();
  }
  int id = -1;
  if (::syscall(SYS_timer_create, arg_int(a.a[0]), a.a[1] ? &ev : nullptr, &id) < 0)
    return -static_cast<int64_t>(errno);
  auto c = ctx.mm.copy_out(a.a[2], &id, sizeof(id));
  if (!c) {
    ::syscall(SYS_timer_delete, id);
    return -c.error();
  }
  return 0;
}

// timer_settime(id, flags, new, old): new is read before the id is looked at
// (EFAULT), old is stored after the change (EFAULT with the timer set).
int64_t sys_timer_settime(SyscallContext& ctx, const SyscallArgs& a) {
  struct itimerspec nv {};
  struct itimerspec ov {};
  auto in = ctx.mm.copy_in(&nv, a.a[2], sizeof(nv));
  if (!in) return -in.error();
  if (::syscall(SYS_timer_settime, arg_int(a.a[0]), arg_int(a.a[1]), &nv, a.a[3] ? &ov : nullptr) <
      0)
    return -static_cast<int64_t>(errno);
  if (a.a[3] == 0) return 0;
  auto out = ctx.mm.copy_out(a.a[3], &ov, sizeof(ov));
  return out ? 0 : -out.error();
}

int64_t sys_timer_gettime(SyscallContext& ctx, const SyscallArgs& a) {
  struct itimerspec cur {};
  if (::syscall(SYS_timer_gettime, arg_int(a.a[0]), &cur) < 0) return -static_cast<int64_t>(errno);
  auto out = ctx.mm.copy_out(a.a[1], &cur, sizeof(cur));
  return out ? 0 : -out.error();
}

int64_t sys_timer_getoverrun(SyscallContext&, const SyscallArgs& a) {
  return host_rax(::syscall(SYS_timer_getoverrun, arg_int(a.a[0])));
}

int64_t sys_timer_delete(SyscallContext&, const SyscallArgs& a) {
  return host_rax(::syscall(SYS_timer_delete, arg_int(a.a[0])));
}

namespace {

// fs/exec.c begin_new_exec -> exit_itimers: execve deletes every POSIX
// timer of the process (interval timers, setitimer's, are kept).
// The process's timers are listed in /proc/self/timers ("ID: n" lines,
// fs/proc/base.c show_timer); elfuse creates none of its own, so every one
// listed is the guest's. Without that file (no CONFIG_CHECKPOINT_RESTORE)
// the ids are tried in order until a run of unused ones: the kernel hands
// them out from 0 upwards.
void posix_timers_on_exec() {
  FILE* f = fopen("/proc/self/timers", "re");
  if (f != nullptr) {
    char line[128];
    int ids[256];
    for (;;) {
      // Deleting while reading would disturb the listing: collect, then delete.
      int n = 0;
      while (n < 256 && fgets(line, sizeof line, f) != nullptr) {
        int id;
        if (sscanf(line, "ID: %d", &id) == 1) ids[n++] = id;
      }
      for (int i = 0; i < n; i++) ::syscall(SYS_timer_delete, ids[i]);
      if (n < 256) break;
      rewind(f);
    }
    fclose(f);
    return;
  }
  int misses = 0;
  for (int id = 0; misses < 1024; id++) {
    if (::syscall(SYS_timer_delete, id) == 0)
      misses = 0;
    else
      misses++;
  }
}

// commit_exec runs it (kernel/exec.h).
[[maybe_unused]] const bool kExecHookRegistered = (register_exec_hook(posix_timers_on_exec), true);

}  // namespace

}  // namespace elfuse
