// Clocks and time. Reading them: clock_gettime, clock_getres,
// gettimeofday, time, times (the guest's vDSO answers the common reads
// without a syscall, src/vdso/). Sleeping on them: nanosleep,
// clock_nanosleep. Setting and adjusting the system clock: clock_settime,
// settimeofday, adjtimex, clock_adjtime. The timers are in sys_timer.cc
// (alarm, itimers), sys_posix_timer.cc (timer_*) and sys_event.cc (timerfd).
//
// Reads and sleeps are the host's calls. Reading the clock's state
// (adjtimex with no mode, clock_adjtime likewise) is the host's answer. A
// guest never sets the host's clock: without CAP_SYS_TIME the host's own
// call fails exactly as Linux does (and changes nothing); with it, Linux's
// argument checks are made here (kernel/time/time.c,
// kernel/time/posix-timers.c, kernel/time/timekeeping.c
// timekeeping_validate_timex) and then the answer is EPERM, as for a caller
// without the capability. Clocks that name a device by fd (CLOCKFD, e.g.
// /dev/ptp0) are the device's: the host's call on a guest fd, as write(2)
// to it would be.
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/times.h>
#include <sys/timex.h>
#include <time.h>
#include <unistd.h>

#include <climits>
#include <cstring>

#include "syscalls/fs_common.h"
#include "syscalls/out_struct.h"
#include "syscalls/privilege.h"
#include "syscalls/table.h"
#include "syscalls/uio_common.h"

namespace elfuse {

using namespace fs;

static_assert(sizeof(struct timex) == 208);  // struct __kernel_timex
static_assert(sizeof(struct tms) == 32);

namespace {

// include/linux/time64.h TIME_SETTOD_SEC_MAX.
constexpr int64_t kSettodSecMax = INT64_MAX / 1000000000 - 30 * 365 * 86400;
// include/uapi/linux/time.h CLOCK_AUX .. CLOCK_AUX_LAST (Linux 6.17).
constexpr int kClockAux = 16, kClockAuxLast = 23;
// include/linux/posix-timers.h: CLOCKFD and its fd encoding.
constexpr int kClockFd = 3;
bool is_fd_clock(int id) {
  return id < 0 && (id & 7) == kClockFd;
}

// A dynamic clock's fd at or above the floor is elfuse's: named as an fd no
// table holds, so the host answers as for a closed one.
int guest_clockid(const Process& p, uint64_t reg) {
  int id = arg_int(reg);
  if (is_fd_clock(id)) {
    int fd = ~(id >> 3);
    if (fd >= p.fds.floor) return (~0x0fffffff << 3) | kClockFd;
  }
  return id;
}

// timespec64_valid_settod.
bool settod_valid(int64_t sec, int64_t nsec) {
  return sec >= 0 && nsec >= 0 && nsec < 1000000000 && sec < kSettodSecMax;
}

// A timex request that only reads the clock's state (no mode, or the
// old adjtime read ADJ_OFFSET_SS_READ without a time injection).
bool timex_read_only(unsigned modes) {
  constexpr unsigned kAdjAdjtime = 0x8000, kSingleshot = 0x0001, kReadonly = 0x2000;
  if (modes == 0) return true;
  return (modes & kAdjAdjtime) &&
         (modes & (kSingleshot | kReadonly)) == (kSingleshot | kReadonly) &&
         !(modes & ADJ_SETOFFSET);
}

// timekeeping_validate_timex for a caller with CAP_SYS_TIME (USER_HZ 100).
int validate_timex(const struct timex& tx, bool aux_clock) {
  constexpr unsigned kAdjAdjtime = 0x8000, kSingleshot = 0x0001;
  if (tx.modes & kAdjAdjtime) {
    if (!(tx.modes & kSingleshot)) return EINVAL;
  } else if ((tx.modes & ADJ_TICK) && (tx.tick < 900000 / 100 || tx.tick > 1100000 / 100)) {
    return EINVAL;
  }
  if (tx.modes & ADJ_SETOFFSET) {
    if (tx.time.tv_usec < 0) return EINVAL;
    if (tx.time.tv_usec >= ((tx.modes & ADJ_NANO) ? 1000000000 : 1000000)) return EINVAL;
  }
  constexpr long kPpmScale = 65536000L;  // PPM_SCALE
  if ((tx.modes & ADJ_FREQUENCY) &&
      (LLONG_MIN / kPpmScale > tx.freq || LLONG_MAX / kPpmScale < tx.freq))
    return EINVAL;
  if (aux_clock) {
    if ((tx.modes & ADJ_STATUS) && (tx.status & (STA_INS | STA_DEL))) return EINVAL;
    if (tx.modes & ADJ_TAI) return EINVAL;
    if ((tx.modes & ADJ_STATUS) && (tx.status & (STA_PPSFREQ | STA_PPSTIME))) return EINVAL;
  }
  return 0;
}

}  // namespace

// clock_gettime(2): CPU-time clocks of this process include elfuse's own
// time spent serving it, which is the cost the guest really incurs.
int64_t sys_clock_gettime(SyscallContext& ctx, const SyscallArgs& a) {
  struct timespec ts {};
  long r = ::syscall(SYS_clock_gettime, arg_int(a.a[0]), &ts);
  return out_struct(ctx, r, a.a[1], ts);
}

int64_t sys_clock_getres(SyscallContext& ctx, const SyscallArgs& a) {
  struct timespec ts {};
  long r = ::syscall(SYS_clock_getres, arg_int(a.a[0]), a.a[1] ? &ts : nullptr);
  if (r < 0 || a.a[1] == 0) return host_rax(r);
  return out_struct(ctx, r, a.a[1], ts);
}

// gettimeofday(2): either pointer may be NULL.
int64_t sys_gettimeofday(SyscallContext& ctx, const SyscallArgs& a) {
  struct timeval tv {};
  struct timezone tz {};
  if (::syscall(SYS_gettimeofday, &tv, &tz) < 0) return -static_cast<int64_t>(errno);
  if (a.a[0]) {
    auto c = ctx.mm.copy_out(a.a[0], &tv, sizeof(tv));
    if (!c) return -c.error();
  }
  if (a.a[1]) {
    auto c = ctx.mm.copy_out(a.a[1], &tz, sizeof(tz));
    if (!c) return -c.error();
  }
  return 0;
}

// time(2): returns the seconds and stores them when tloc is not NULL.
int64_t sys_time(SyscallContext& ctx, const SyscallArgs& a) {
  int64_t t = ::syscall(SYS_time, nullptr);
  if (a.a[0]) {
    auto c = ctx.mm.copy_out(a.a[0], &t, sizeof(t));
    if (!c) return -c.error();
  }
  return t;
}

// nanosleep(2): the remaining time is written only when interrupted.
int64_t sys_nanosleep(SyscallContext& ctx, const SyscallArgs& a) {
  struct timespec req, rem{};
  auto c = ctx.mm.copy_in(&req, a.a[0], sizeof(req));
  if (!c) return -c.error();
  long r = ::syscall(SYS_nanosleep, &req, &rem);
  if (r < 0 && errno == EINTR && a.a[1]) {
    auto w = ctx.mm.copy_out(a.a[1], &rem, sizeof(rem));
    if (!w) return -w.error();
  }
  return host_rax(r);
}

// clock_nanosleep(2): with TIMER_ABSTIME the remainder is never written.
int64_t sys_clock_nanosleep(SyscallContext& ctx, const SyscallArgs& a) {
  struct timespec req, rem{};
  int flags = arg_int(a.a[1]);
  auto c = ctx.mm.copy_in(&req, a.a[2], sizeof(req));
  if (!c) return -c.error();
  long r = ::syscall(SYS_clock_nanosleep, arg_int(a.a[0]), flags, &req, &rem);
  int err = errno;
  if (r < 0 && err == EINTR && a.a[3] && !(flags & TIMER_ABSTIME)) {
    auto w = ctx.mm.copy_out(a.a[3], &rem, sizeof(rem));
    if (!w) return -w.error();
  }
  return r < 0 ? -static_cast<int64_t>(err) : r;
}

// times(buf), kernel/sys.c: buf may be NULL; the result is the clock ticks
// since boot, which may look negative (times(2) NOTES), so it is returned
// unchanged rather than as an error.
int64_t sys_times(SyscallContext& ctx, const SyscallArgs& a) {
  struct tms t {};
  long ticks = ::syscall(SYS_times, a.a[0] ? &t : nullptr);
  if (a.a[0] != 0) {
    auto c = ctx.mm.copy_out(a.a[0], &t, sizeof(t));
    if (!c) return -c.error();
  }
  return ticks;
}

// clock_settime(clockid, tp): the clock first (EINVAL for one that does not
// exist or cannot be set), then the time is read (EFAULT) and checked
// (EINVAL), then the capability. CLOCK_REALTIME and the auxiliary clocks
// are the settable system clocks.
int64_t sys_clock_settime(SyscallContext& ctx, const SyscallArgs& a) {
  int id = guest_clockid(ctx.proc, a.a[0]);
  struct timespec ts {};
  bool system_clock = id == CLOCK_REALTIME || (id >= kClockAux && id <= kClockAuxLast);
  if (!system_clock || !host_has_cap(CAP_SYS_TIME)) {
    // Nothing the host could set for this caller: its answer is Linux's.
    const void* arg = ctx.mm.copy_in(&ts, a.a[1], sizeof ts) ? &ts : uio::fault_ptr();
    return host_rax(::syscall(SYS_clock_settime, id, arg));
  }
  if (id != CLOCK_REALTIME) {
    // An auxiliary clock the host does not run is EINVAL (or ENODEV) first.
    struct timespec now;
    if (::syscall(SYS_clock_gettime, id, &now) < 0) return -static_cast<int64_t>(errno);
  }
  if (!ctx.mm.copy_in(&ts, a.a[1], sizeof ts)) return -EFAULT;
  if (!settod_valid(ts.tv_sec, ts.tv_nsec)) return -EINVAL;
  return -EPERM;
}

// settimeofday(tv, tz), kernel/time/time.c: tv is read (EFAULT) and its
// tv_usec checked (EINVAL: above USEC_PER_SEC or negative), then tz is read
// (EFAULT), then do_sys_settimeofday64: the time's range (EINVAL), the
// capability (EPERM, even for NULL, NULL), the time zone's range (EINVAL).
// Setting the kernel's time zone is setting the host's.
int64_t sys_settimeofday(SyscallContext& ctx, const SyscallArgs& a) {
  struct timeval tv {};
  struct timezone tz {};
  if (a.a[0] != 0) {
    if (!ctx.mm.copy_in(&tv, a.a[0], sizeof tv)) return -EFAULT;
    if (tv.tv_usec > 1000000 || tv.tv_usec < 0) return -EINVAL;
  }
  if (a.a[1] != 0 && !ctx.mm.copy_in(&tz, a.a[1], sizeof tz)) return -EFAULT;
  if (!host_has_cap(CAP_SYS_TIME)) {
    return host_rax(::syscall(SYS_settimeofday, a.a[0] ? &tv : nullptr, a.a[1] ? &tz : nullptr));
  }
  if (a.a[0] != 0) {
    if (!settod_valid(tv.tv_sec, tv.tv_usec * 1000)) return -EINVAL;
    return -EPERM;
  }
  if (a.a[1] != 0) {
    if (tz.tz_minuteswest > 15 * 60 || tz.tz_minuteswest < -15 * 60) return -EINVAL;
    return -EPERM;
  }
  return 0;  // nothing to set
}

// adjtimex(buf): the struct is read (EFAULT) and always written back, also
// after an error (EFAULT then).
int64_t sys_adjtimex(SyscallContext& ctx, const SyscallArgs& a) {
  struct timex tx;
  if (!ctx.mm.copy_in(&tx, a.a[0], sizeof tx)) return -EFAULT;
  int64_t r;
  if (timex_read_only(tx.modes) || !host_has_cap(CAP_SYS_TIME)) {
    r = host_rax(::syscall(SYS_adjtimex, &tx));
  } else {
    int err = validate_timex(tx, false);
    r = err ? -err : -EPERM;
  }
  if (!ctx.mm.copy_out(a.a[0], &tx, sizeof tx)) return -EFAULT;
  return r;
}

// clock_adjtime(clockid, buf): the struct is read (EFAULT), the clock
// checked (EINVAL; EOPNOTSUPP for one that cannot be adjusted), and the
// struct written back only on success.
int64_t sys_clock_adjtime(SyscallContext& ctx, const SyscallArgs& a) {
  int id = guest_clockid(ctx.proc, a.a[0]);
  struct timex tx;
  if (!ctx.mm.copy_in(&tx, a.a[1], sizeof tx)) return -EFAULT;
  bool system_clock = id == CLOCK_REALTIME || (id >= kClockAux && id <= kClockAuxLast);
  if (!system_clock || timex_read_only(tx.modes) || !host_has_cap(CAP_SYS_TIME)) {
    long r = ::syscall(SYS_clock_adjtime, id, &tx);
    if (r < 0) return -static_cast<int64_t>(errno);
    if (!ctx.mm.copy_out(a.a[1], &tx, sizeof tx)) return -EFAULT;
    return r;
  }
  if (id != CLOCK_REALTIME) {
    struct timex probe {};
    if (::syscall(SYS_clock_adjtime, id, &probe) < 0) return -static_cast<int64_t>(errno);
  }
  int err = validate_timex(tx, id != CLOCK_REALTIME);
  return err ? -err : -EPERM;
}

}  // namespace elfuse
