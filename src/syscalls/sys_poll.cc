// I/O multiplexing: poll, ppoll, select, pselect6. The guest's fds are host
// fds, so the waiting itself is the host's poll/pselect on host copies of the
// guest's arrays; what elfuse does is the kernel's argument handling around
// it (fs/select.c): the order of the EFAULT/EINVAL checks, elfuse's own fds
// (at or above the floor) looking closed, the write-back of results, and the
// remaining timeout ppoll/select/pselect6 report (poll_select_finish).
#include <poll.h>
#include <signal.h>
#include <sys/select.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstddef>
#include <vector>

#include "syscalls/fs_common.h"
#include "syscalls/sigmask_arg.h"
#include "syscalls/table.h"
#include "syscalls/uaccess.h"

namespace elfuse {

using namespace fs;

static_assert(sizeof(struct pollfd) == 8);
static_assert(offsetof(struct pollfd, revents) == 6);

namespace {

constexpr long kNsecPerSec = 1000000000L;

// The host's struct for pselect6's sixth argument (fs/select.c
// struct sigset_argpack); the guest's has the same layout.
struct SigsetArgpack {
  uint64_t p;
  uint64_t size;
};
static_assert(sizeof(SigsetArgpack) == 16);

timespec mono_now() {
  timespec t{};
  ::clock_gettime(CLOCK_MONOTONIC, &t);
  return t;
}

// The kernel's timeout bookkeeping (fs/select.c poll_select_set_timeout):
// an absolute CLOCK_MONOTONIC end, with 0/0 meaning "zero timeout" (which is
// never written back), and the relative timeout handed to the host.
struct Timeout {
  bool given = false;  // the guest passed a timeout (not "wait forever")
  timespec rel{};      // as the guest gave it, normalised
  timespec end{};      // absolute end; {0, 0} for a zero timeout
};

// poll_select_set_timeout(): EINVAL unless timespec64_valid (tv_sec >= 0,
// 0 <= tv_nsec < 1e9). The end saturates instead of overflowing
// (timespec64_add_safe).
Result<Timeout> set_timeout(int64_t sec, int64_t nsec) {
  if (sec < 0 || nsec < 0 || nsec >= kNsecPerSec) return Errno{EINVAL};
  Timeout t;
  t.given = true;
  t.rel = {sec, nsec};
  if (sec == 0 && nsec == 0) return t;
  timespec now = mono_now();
  if (sec > LONG_MAX - now.tv_sec - 1) {
    t.end = {LONG_MAX, kNsecPerSec - 1};
  } else {
    t.end = {now.tv_sec + sec, now.tv_nsec + nsec};
    if (t.end.tv_nsec >= kNsecPerSec) {
      t.end.tv_sec++;
      t.end.tv_nsec -= kNsecPerSec;
    }
  }
  return t;
}

// The time left until t.end, never negative (poll_select_finish).
timespec remaining(const Timeout& t) {
  timespec now = mono_now();
  timespec r{t.end.tv_sec - now.tv_sec, t.end.tv_nsec - now.tv_nsec};
  if (r.tv_nsec < 0) {
    r.tv_sec--;
    r.tv_nsec += kNsecPerSec;
  }
  if (r.tv_sec < 0) r = {0, 0};
  return r;
}

// poll_select_finish(): ppoll, select and pselect6 write the time left back
// to the guest's timeout, except for a zero timeout. A failing write is
// ignored ("If an application puts its timeval in read-only memory, we don't
// want the Linux-specific update to the timeval to cause a fault after the
// select has completed successfully").
enum class TimeKind { kTimespec, kTimeval };
void finish_timeout(SyscallContext& ctx, const Timeout& t, GuestAddr guest, TimeKind kind) {
  if (!t.given || guest.null()) return;
  if (t.end.tv_sec == 0 && t.end.tv_nsec == 0) return;
  timespec r = remaining(t);
  if (kind == TimeKind::kTimespec) {
    (void)out_at<KernelTimespec>(guest.addr).put(ctx.mm, r);
  } else {
    timeval tv{r.tv_sec, r.tv_nsec / 1000};
    (void)out_at<KernelTimeval>(guest.addr).put(ctx.mm, tv);
  }
}

// do_sys_poll(): nfds above RLIMIT_NOFILE (the guest's virtual one) is
// EINVAL; the array must be readable (EFAULT); after waiting, each revents
// is stored back (EFAULT if that fails). elfuse's own fds are not open as far
// as the guest knows, so they report POLLNVAL as a closed fd does -- and,
// like any ready entry, make the call return at once.
int64_t do_poll(SyscallContext& ctx, Bytes ufds, unsigned nfds, const timespec* rel,
                const uint64_t* host_mask) {
  if (nfds > ctx.proc.fds.nofile_soft) return -EINVAL;
  std::vector<pollfd> fds(nfds);
  auto c = ufds.get(ctx.mm, fds.data(), uint64_t{nfds} * sizeof(pollfd));
  if (!c) return -c.error();

  std::vector<bool> hidden(nfds, false);
  int64_t n_hidden = 0;
  for (unsigned i = 0; i < nfds; i++) {
    if (fds[i].fd >= ctx.proc.fds.floor) {
      fds[i].fd = -1;  // the host ignores negative fds (revents 0)
      hidden[i] = true;
      n_hidden++;
    }
  }
  // The host's ppoll writes the time left into its timespec: give it a
  // private copy (the guest's is computed from the end time).
  timespec host_rel{};
  timespec* relp = nullptr;
  if (rel || n_hidden > 0) {
    host_rel = n_hidden > 0 ? timespec{0, 0} : *rel;
    relp = &host_rel;
  }
  long r = ::syscall(SYS_ppoll, fds.data(), static_cast<unsigned long>(nfds), relp, host_mask,
                     host_mask ? kKernelSigsetSize : 0);
  if (r < 0) return -static_cast<int64_t>(errno);
  r += n_hidden;
  // Only revents is written, entry by entry, as the kernel does: the fd and
  // events fields stay whatever the guest has there now.
  for (unsigned i = 0; i < nfds; i++) {
    short rev = hidden[i] ? static_cast<short>(POLLNVAL) : fds[i].revents;
    auto w = out_at<short>(ufds.addr + uint64_t{i} * sizeof(pollfd) + offsetof(pollfd, revents))
                 .put(ctx.mm, rev);
    if (!w) return -w.error();
  }
  return r;
}

// FDS_BYTES(n) of fs/select.c: whole longs.
uint64_t fds_bytes(int n) {
  return (static_cast<uint64_t>(n) + 63) / 64 * 8;
}

// The size of the guest's fd table (fdt->max_fds), which select clamps its
// nfds to: bits of higher fds are neither looked at nor written back, so a
// closed fd there is not EBADF. Linux starts with BITS_PER_LONG (64) slots
// and grows the table to a power of two covering the fd being installed
// (fs/file.c expand_fdtable, alloc_fdtable); a fork sizes the child's to its
// open fds (dup_fd). elfuse's host table is much larger (its own fds sit at
// the floor), so the guest's is estimated from the highest guest fd open
// now -- exact unless a higher fd was open earlier in this process. Only
// asked for nfds above 64; one host poll with events 0 finds the open fds
// (a closed one reports POLLNVAL).
int guest_max_fds(const Process& p, int n) {
  constexpr int kFirst = 64;
  int hi = std::min(n, p.fds.floor);
  if (hi <= kFirst) return kFirst;
  std::vector<pollfd> probe(static_cast<size_t>(hi - kFirst));
  for (int fd = kFirst; fd < hi; fd++) probe[fd - kFirst] = {fd, 0, 0};
  timespec zero{0, 0};
  if (::syscall(SYS_ppoll, probe.data(), probe.size(), &zero, nullptr, 0) < 0) return hi;
  int highest = -1;
  for (const pollfd& e : probe)
    if (!(e.revents & POLLNVAL)) highest = e.fd;
  if (highest < 0) return kFirst;
  int size = kFirst;
  while (size <= highest) size *= 2;
  return size;
}

// core_sys_select(): n < 0 is EINVAL; n is clamped to the size of the fd
// table (guest_max_fds; elfuse's fds at and above the floor are never the
// guest's); each given set is read (FDS_BYTES(n), EFAULT); after the wait,
// the result sets are written back the same way (EFAULT). Closed fds in the
// sets are the host's EBADF.
int64_t do_select(SyscallContext& ctx, int n, Bytes inp, Bytes outp, Bytes exp, const timespec* rel,
                  const uint64_t* host_mask) {
  if (n < 0) return -EINVAL;
  if (n > 64) n = std::min(n, guest_max_fds(ctx.proc, n));
  const uint64_t bytes = fds_bytes(n);
  const Bytes guest[3] = {inp, outp, exp};
  std::vector<uint8_t> sets[3];
  for (int i = 0; i < 3; i++) {
    if (guest[i].null()) continue;
    sets[i].resize(bytes);
    auto c = guest[i].get(ctx.mm, sets[i].data(), bytes);
    if (!c) return -c.error();
  }
  SigsetArgpack pack{reinterpret_cast<uint64_t>(host_mask), kKernelSigsetSize};
  // The host's pselect6 may update its copy of the timeout; elfuse computes
  // the guest's own from the end time instead, so a private copy is passed.
  timespec host_rel{};
  timespec* relp = nullptr;
  if (rel) {
    host_rel = *rel;
    relp = &host_rel;
  }
  auto ptr = [&](int i) -> void* { return !guest[i].null() ? sets[i].data() : nullptr; };
  long r = ::syscall(SYS_pselect6, n, ptr(0), ptr(1), ptr(2), relp, host_mask ? &pack : nullptr);
  if (r < 0) return -static_cast<int64_t>(errno);
  for (int i = 0; i < 3; i++) {
    if (guest[i].null()) continue;
    auto w = guest[i].put(ctx.mm, sets[i].data(), bytes);
    if (!w) return -EFAULT;
  }
  return r;
}

}  // namespace

// poll(fds, nfds, timeout_ms): a negative timeout waits forever.
int64_t sys_poll(SyscallContext& ctx, Bytes ufds, UInt nfds, Int timeout) {
  int ms = timeout;
  timespec rel{ms / 1000, static_cast<long>(ms % 1000) * 1000000L};
  return do_poll(ctx, ufds, nfds, ms >= 0 ? &rel : nullptr, nullptr);
}

// A timespec timeout argument of ppoll/pselect6: NULL waits forever;
// otherwise copied in (EFAULT) and checked (EINVAL) by set_timeout.
static Result<Timeout> read_timespec_timeout(SyscallContext& ctx, InOut<KernelTimespec> guest) {
  if (guest.null()) return Timeout{};
  timespec ts = TRY(guest.get(ctx.mm));
  return set_timeout(ts.tv_sec, ts.tv_nsec);
}

// ppoll(fds, nfds, tmo_p, sigmask, sigsetsize), fs/select.c: the timeout is
// read and checked first, then the mask; the time left is written back
// whatever do_sys_poll returned.
int64_t sys_ppoll(SyscallContext& ctx, Bytes ufds, UInt nfds, InOut<KernelTimespec> tsp,
                  GuestAddr sigmask, Size sigsetsize) {
  auto tt = read_timespec_timeout(ctx, tsp);
  if (!tt) return -tt.error();
  Timeout t = *tt;
  uint64_t mask = 0;
  bool have_mask = false;
  auto m = read_user_sigmask(ctx.mm, sigmask.addr, sigsetsize, &mask, &have_mask);
  if (!m) return -m.error();
  int64_t r = do_poll(ctx, ufds, nfds, t.given ? &t.rel : nullptr, have_mask ? &mask : nullptr);
  finish_timeout(ctx, t, tsp, TimeKind::kTimespec);
  return r;
}

// select(nfds, readfds, writefds, exceptfds, timeout), fs/select.c
// kern_select: the timeval is read and checked (tv_usec of a second or more
// is carried into seconds; negative values are EINVAL) before the sets; on
// return it holds the time left (Linux-specific, select(2) NOTES).
int64_t sys_select(SyscallContext& ctx, Int n, Bytes inp, Bytes outp, Bytes exp,
                   InOut<KernelTimeval> tvp) {
  Timeout t;
  if (!tvp.null()) {
    auto c = tvp.get(ctx.mm);
    if (!c) return -c.error();
    timeval tv = *c;
    // The kernel carries in 64-bit arithmetic; tv_usec / 1e6 cannot overflow
    // tv_sec in any way the EINVAL check would not catch first except for
    // tv_sec near LONG_MAX, which saturates like the end time does.
    int64_t sec = tv.tv_sec;
    int64_t carry = tv.tv_usec / 1000000;
    sec = (carry > 0 && sec > LONG_MAX - carry) ? LONG_MAX : sec + carry;
    auto st = set_timeout(sec, (tv.tv_usec % 1000000) * 1000);
    if (!st) return -st.error();
    t = *st;
  }
  int64_t r = do_select(ctx, n, inp, outp, exp, t.given ? &t.rel : nullptr, nullptr);
  finish_timeout(ctx, t, tvp, TimeKind::kTimeval);
  return r;
}

// pselect6(nfds, readfds, writefds, exceptfds, timeout, sig), fs/select.c:
// sig points to {const sigset_t *ss; size_t ss_len} (read first, EFAULT),
// then the timespec is read and checked, then the mask itself.
int64_t sys_pselect6(SyscallContext& ctx, Int n, Bytes inp, Bytes outp, Bytes exp,
                     InOut<KernelTimespec> tsp, GuestAddr sig) {
  SigsetArgpack pack{0, 0};
  if (!sig.null()) {
    auto c = in_at<SigsetArgpack>(sig.addr).get(ctx.mm);
    if (!c) return -c.error();
    pack = *c;
  }
  auto tt = read_timespec_timeout(ctx, tsp);
  if (!tt) return -tt.error();
  Timeout t = *tt;
  uint64_t mask = 0;
  bool have_mask = false;
  auto m = read_user_sigmask(ctx.mm, pack.p, pack.size, &mask, &have_mask);
  if (!m) return -m.error();
  int64_t r =
      do_select(ctx, n, inp, outp, exp, t.given ? &t.rel : nullptr, have_mask ? &mask : nullptr);
  finish_timeout(ctx, t, tsp, TimeKind::kTimespec);
  return r;
}

}  // namespace elfuse
