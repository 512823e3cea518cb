// Syscalls without an exit: the host side of the guest's syscall entry
// (kernel/exitless.h, docs/internals.md "Syscalls without an exit").
#include "kernel/exitless.h"

#include <fcntl.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <bitset>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "hv/guest_entry.h"
#include "kernel/exitless_policy.h"
#include "kernel/process.h"
#include "kernel/signal.h"
#include "kernel/syscall_entry.h"
#include "kernel/syscall_policy.h"

namespace elfuse {

struct ExitlessWorker {
  Process* proc = nullptr;
  Thread* thread = nullptr;
  GuestEntry* entry = nullptr;
  pthread_t pt{};
  std::atomic<int> tid{0};
  // T -> W: bumped (and futex-woken) to end W's sleep or make it stop.
  std::atomic<uint32_t> wake{0};
  std::atomic<bool> sleeping{false};
  // Steady-clock ns before which T does not wake a sleeping W: set when a
  // spin of W's did not pay (the policy), or T's entry gave up on a call.
  std::atomic<int64_t> backoff_until{0};
  // T -> W: what T lost to calls its entry gave up on (the entry's spin
  // each), for the policy's judgement of W's current or next spin.
  std::atomic<int64_t> lost_ns{0};
  // W's only: whether its spins pay (kernel/exitless_policy.h).
  ExitlessPolicy policy;
  // W -> T: steady-clock ns of the last call W served.
  std::atomic<int64_t> last_call_ns{0};
  // T -> W: the time between T's last two allowlisted calls.
  std::atomic<int64_t> gap_ns{0};
  std::atomic<bool> stop{false};
  std::atomic<uint32_t> exited{0};
  // 1 from just before W tries to claim a call until its answer is stored
  // (or the claim failed). T, at a kClaimed exit, waits for 0.
  std::atomic<uint32_t> busy{0};
  // T -> W: the host call in progress must end with EINTR (a signal for T).
  std::atomic<bool> interrupt{false};
  // T waits on `event`, which W (an answer) and T's signal handler bump.
  std::atomic<bool> t_waiting{false};
  std::atomic<uint32_t> event{0};
  // The last call W claimed, as it read it, and what became of it.
  SyscallArgs args{};
  int64_t result = 0;
  bool refused = false;
};

void ExitlessWorkerFree::operator()(ExitlessWorker* w) const {
  delete w;
}

namespace {

// ------------------------------------------------------------ policy

// The signal T sends W to end a blocking host call: elfuse's vCPU kick (a
// tgkill from elfuse's own pid, which the SIGURG handler takes for a kick),
// without SA_RESTART, so the call returns EINTR. Never blocked on a guest
// thread's host thread either. A guest's process-directed SIGURG that the
// host gives W goes on to a guest thread (kernel/signal_host.cc).
constexpr int kInterruptSignal = SIGURG;
// getppid answers the entry gives in a row before it asks the host again.
constexpr int32_t kPpidBudget = 1000;
// A spinning worker that finds a gap this long between two turns of its
// loop was preempted: it stops spinning (and its policy judges the spin).
constexpr int64_t kPreemptedNs = 100'000;
// T leaves W asleep at least this long after its entry gave up on a call.
constexpr int64_t kTakenBackSleepNs = 1'000'000;

struct Config {
  bool answers = false;  // ids and FUTEX_WAKE_PRIVATE answered in the guest
  bool workers = false;  // the exitless worker
  // Workers that may spin at once: one per host CPU beyond the first (the
  // guest thread itself needs one). 0: no worker at all.
  int max_spinners = 0;
  // The entry waits this long for W's answer, then exits: about the cost
  // of the exit it avoids, so a call that blocks costs at most twice the
  // exit path's overhead (ski rental).
  uint64_t entry_spin_us = 40;
  // W watches its request page this long after its last call, then sleeps
  // until T (at an exit of an allowlisted call) wakes it. Longer with more
  // spare CPUs.
  uint64_t worker_spin_us = 50;
};
Config g_cfg;
std::atomic<int> g_spinners{0};
std::atomic<bool> g_ppid_on{false};
std::bitset<SHIM_CHANNEL_NRS> g_allowed;
// The device of anonymous-inode files (eventfd, signalfd, timerfd, epoll...):
// signalfd reads the caller's own pending signals, so none goes to W.
dev_t g_anon_dev = 0;
bool g_anon_dev_known = false;

thread_local std::atomic<uint32_t>* volatile t_wait_event = nullptr;

// ELFUSE_EXITLESS_STATS: counts printed at exit_group (exitless_print_stats).
std::atomic<long> g_served{0}, g_refused{0}, g_claimed_exits{0}, g_traps_allowed{0};
// Why allowlisted calls were trapped.
std::atomic<long> g_trap_far{0}, g_trap_backoff{0}, g_trap_woke{0}, g_trap_busy{0}, g_trap_new{0};
std::atomic<long> g_taken_back{0}, g_spins{0}, g_bad_spins{0}, g_waited_ns{0};

long futex(std::atomic<uint32_t>* word, int op, uint32_t val, const timespec* ts = nullptr) {
  return syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), op, val, ts, nullptr, 0);
}

int usable_cpus() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) return CPU_COUNT(&set);
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? static_cast<int>(n) : 1;
}

// The calls whose row (syscalls.def) lets the worker serve them: their
// Linux semantics do not depend on which thread of the process makes them
// (fd table, fs and credentials are shared with T); worker_may_run narrows
// some by their arguments.
void set_allowlist() {
  for (uint64_t nr = 0; nr < SHIM_CHANNEL_NRS; nr++)
    if (syscall_worker_allowed(nr)) g_allowed.set(nr);
}

// Calls that change the calling host thread's credentials or its own
// namespaces, fs or fd table (some are ENOSYS today).
bool changes_host_thread(uint64_t nr) {
  switch (nr) {
    case SYS_capset:
    case SYS_setuid:
    case SYS_setgid:
    case SYS_setreuid:
    case SYS_setregid:
    case SYS_setresuid:
    case SYS_setresgid:
    case SYS_setfsuid:
    case SYS_setfsgid:
    case SYS_setgroups:
    case SYS_unshare:
    case SYS_setns:
    case SYS_close_range:  // CLOSE_RANGE_UNSHARE
      return true;
    default:
      return false;
  }
}

bool is_write(uint64_t nr) {
  return nr == SYS_write || nr == SYS_pwrite64 || nr == SYS_writev;
}

// The read and write family: data through a descriptor.
bool is_fd_io(uint64_t nr) {
  return nr == SYS_read || nr == SYS_write || nr == SYS_pread64 || nr == SYS_pwrite64 ||
         nr == SYS_readv || nr == SYS_writev;
}

// EINTR from these means nothing happened: W calls again when the signal
// was not T's (the host can give W a process-directed SIGURG).
bool retry_on_eintr(uint64_t nr) {
  return is_fd_io(nr) || nr == SYS_open || nr == SYS_openat;
}

bool worker_may_run(Process& proc, const SyscallArgs& a) {
  return syscall_worker_may_serve(proc, a, g_anon_dev_known ? &g_anon_dev : nullptr);
}

// A write that failed with EPIPE or EFBIG also sent SIGPIPE or SIGXFSZ to
// the calling thread (W, which blocks them): drop them there. T redoes the
// call (nothing was written), and gets both error and signal itself.
void drain_thread_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGPIPE);
  sigaddset(&set, SIGXFSZ);
  timespec zero{};
  while (sigtimedwait(&set, nullptr, &zero) > 0) {
  }
}

bool take_spinner() {
  int n = g_spinners.load(std::memory_order_relaxed);
  while (n < g_cfg.max_spinners)
    if (g_spinners.compare_exchange_weak(n, n + 1)) return true;
  return false;
}

void give_spinner() {
  g_spinners.fetch_sub(1);
}

// W is useful only while it runs at the same time as T: on T's CPU it
// could only take turns with T, and its spinning would only delay T's next
// call (and the host's wake-up placement puts a woken thread on its
// waker's CPU). So before each wake T keeps W off the CPU T runs on, within
// T's own affinity (which the guest may have narrowed). If T moves later,
// the calls W catches wait to be claimed and the policy stops the spin;
// the next wake moves W again.
void keep_off_thread_cpu(const ExitlessWorker& w) {
  int cpu = sched_getcpu();
  cpu_set_t set;
  if (cpu < 0 || sched_getaffinity(0, sizeof set, &set) != 0) return;
  if (CPU_ISSET(cpu, &set) && CPU_COUNT(&set) > 1) CPU_CLR(cpu, &set);
  sched_setaffinity(w.tid.load(), sizeof set, &set);
}

// ------------------------------------------------------------ worker

// False when there was nothing to claim. `waited_ns`: how long the call
// waited to be claimed.
bool serve(ExitlessWorker& w, int64_t* waited_ns) {
  GuestEntry& e = *w.entry;
  ChannelCall c;
  w.busy.store(1, std::memory_order_seq_cst);
  if (!e.claim(&c)) {
    w.busy.store(0, std::memory_order_seq_cst);
    return false;
  }
  *waited_ns = c.waited_ns;
  g_waited_ns.fetch_add(c.waited_ns, std::memory_order_relaxed);
  w.interrupt.store(false);
  SyscallArgs a{c.nr, {c.a[0], c.a[1], c.a[2], c.a[3], c.a[4], c.a[5]}};
  Process& proc = *w.proc;
  bool refused = a.nr >= SHIM_CHANNEL_NRS || !g_allowed[a.nr] || !worker_may_run(proc, a);
  int64_t r = 0;
  if (!refused) {
    for (;;) {
      SyscallContext ctx{proc, *w.thread, proc.mm()};
      ctx.on_worker = true;
      r = dispatch_syscall(ctx, a);
      if (ctx.refuse) {
        refused = true;
        break;
      }
      if (r == -EINTR && retry_on_eintr(a.nr) && !w.interrupt.load() && !w.stop.load()) continue;
      break;
    }
    if ((r == -EPIPE || r == -EFBIG) && is_write(a.nr)) {
      drain_thread_signals();
      refused = true;
    }
  }
  (refused ? g_refused : g_served).fetch_add(1, std::memory_order_relaxed);
  w.args = a;
  w.result = r;
  w.refused = refused;
  if (refused)
    e.refuse();
  else
    e.answer(r);
  w.busy.store(0, std::memory_order_seq_cst);
  if (w.t_waiting.load(std::memory_order_seq_cst)) {
    w.event.fetch_add(1);
    futex(&w.event, FUTEX_WAKE_PRIVATE, INT_MAX);
  }
  return true;
}

int64_t steady_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

void worker_loop(ExitlessWorker& w) {
  GuestEntry& e = *w.entry;
  const int64_t budget = static_cast<int64_t>(g_cfg.worker_spin_us) * 1000;
  while (!w.stop.load()) {
    if (take_spinner()) {
      e.set_worker_awake(true);
      w.policy.spin_start();
      // Woken by T at a trap: T's next call comes about one gap later.
      int64_t first = ExitlessPolicy::first_spin_ns(w.gap_ns.load(), budget);
      int64_t last = steady_ns(), deadline = last + first;
      while (!w.stop.load(std::memory_order_relaxed)) {
        int64_t waited;
        if (e.posted() && serve(w, &waited)) {
          // The calls cost about as much as exits: W is not keeping up.
          if (!w.policy.served(waited)) break;
          last = steady_ns();
          w.last_call_ns.store(last, std::memory_order_relaxed);
          deadline = last + budget;
          continue;
        }
        int64_t t = steady_ns();
        // One turn of this loop takes well under a microsecond; much more
        // means the host took the CPU away: T's calls meanwhile waited, or
        // its entry gave up on them. Stop; the policy judges the spin.
        if (t - last > kPreemptedNs) break;
        last = t;
        if (t >= deadline) break;
        __builtin_ia32_pause();
      }
      e.set_worker_awake(false);
      give_spinner();
      int64_t sleep = w.policy.spin_end(w.lost_ns.exchange(0));
      g_spins.fetch_add(1, std::memory_order_relaxed);
      if (sleep) {
        g_bad_spins.fetch_add(1, std::memory_order_relaxed);
        w.backoff_until.store(steady_ns() + sleep);
      }
    }
    // A call posted just before the entry saw AWAKE go to 0.
    int64_t waited;
    if (e.posted() && serve(w, &waited)) continue;
    uint32_t seq = w.wake.load();
    w.sleeping.store(true, std::memory_order_seq_cst);
    if (!w.stop.load() && !e.posted()) futex(&w.wake, FUTEX_WAIT_PRIVATE, seq);
    w.sleeping.store(false);
  }
}

void* worker_main(void* arg) {
  auto* w = static_cast<ExitlessWorker*>(arg);
  // Every signal blocked but the interrupt (raw: glibc's wrapper keeps its
  // own 32 and 33 open), so no guest signal is ever taken here.
  uint64_t mask = ~sigbit(kInterruptSignal);
  syscall(SYS_rt_sigprocmask, SIG_SETMASK, &mask, nullptr, 8);
  w->tid.store(static_cast<int>(gettid()));
  w->tid.notify_one();
  worker_loop(*w);
  w->exited.store(1);
  futex(&w->exited, FUTEX_WAKE_PRIVATE, INT_MAX);
  return nullptr;
}

// Called by T: the new host thread shares T's fd table, fs and credentials.
void start_worker(Process& proc, Thread& t, GuestEntry& e) {
  auto* w = new ExitlessWorker;
  w->proc = &proc;
  w->thread = &t;
  w->entry = &e;
  ExitlessCosts costs;
  costs.entry_spin_ns = static_cast<int64_t>(g_cfg.entry_spin_us) * 1000;
  w->policy = ExitlessPolicy(costs);
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 512 << 10);
  uint64_t all = ~uint64_t{0}, old = 0;
  syscall(SYS_rt_sigprocmask, SIG_SETMASK, &all, &old, 8);
  int err = pthread_create(&w->pt, &attr, worker_main, w);
  syscall(SYS_rt_sigprocmask, SIG_SETMASK, &old, nullptr, 8);
  pthread_attr_destroy(&attr);
  if (err) {
    delete w;
    return;
  }
  w->tid.wait(0);
  keep_off_thread_cpu(*w);
  t.worker.reset(w);
  e.set_spin_us(g_cfg.entry_spin_us);
  e.set_allowed(g_allowed);
}

GuestProcessPage* page_of(Process& proc) {
  return proc.vm ? proc.vm->process_page() : nullptr;
}

void bind_ids(Thread& t) {
  GuestEntry* e = t.vcpu ? t.vcpu->entry() : nullptr;
  if (!e) return;
  GuestIds ids;
  if (g_cfg.answers && !t.seccomp_strict && !t.seccomp_filtered.load()) {
    ids.tid = t.tid;
    ids.uid = getuid();
    ids.euid = geteuid();
    ids.gid = getgid();
    ids.egid = getegid();
  }
  e->set_ids(ids);
  e->set_ppid_budget(kPpidBudget);
}

void publish_process(Process& proc) {
  GuestProcessPage* page = page_of(proc);
  if (!page) return;
  bool answers = g_cfg.answers && !proc.seccomp_strict_seen.load();
  page->futex_waiters().store(answers ? 0 : GuestProcessPage::kFutexHostOnly);
  page->set_pid(answers ? getpid() : -1);
  page->set_ppid(answers && g_ppid_on.load() ? getppid() : -1);
}

}  // namespace

// ------------------------------------------------------------ public

void exitless_configure(bool observed) {
  g_cfg.answers = !observed;
  const char* env = getenv("ELFUSE_EXITLESS");
  bool want_workers = !observed && !(env && strcmp(env, "0") == 0);
  int cpus = usable_cpus();
  g_cfg.max_spinners = cpus - 1;
  g_cfg.workers = want_workers && g_cfg.max_spinners > 0;
  g_cfg.worker_spin_us = 200;
  if (const char* us = getenv("ELFUSE_EXITLESS_SPIN_US"))
    g_cfg.worker_spin_us = strtoull(us, nullptr, 10);
  set_allowlist();
  int efd = eventfd(0, EFD_CLOEXEC);
  if (efd >= 0) {
    struct stat st;
    if (fstat(efd, &st) == 0) {
      g_anon_dev = st.st_dev;
      g_anon_dev_known = true;
    }
    close(efd);
  }
  // Without the anonymous-inode check a signalfd read could reach W.
  if (!g_anon_dev_known) g_cfg.workers = false;
}

void exitless_thread_start(Process&, Thread& thread) {
  bind_ids(thread);
}

void exitless_on_exec(Process& proc, Thread& thread) {
  publish_process(proc);
  bind_ids(thread);
}

void exitless_on_fork_child(Process& proc, Thread& thread) {
  // The parent's workers are host threads of the parent.
  thread.worker.reset();
  g_spinners.store(0);
  publish_process(proc);
  bind_ids(thread);
}

void exitless_on_exit(Process& proc) {
  // The parent may have died and the process been reparented meanwhile.
  if (g_ppid_on.load(std::memory_order_relaxed) && !proc.seccomp_strict_seen.load()) {
    if (GuestProcessPage* page = page_of(proc)) page->set_ppid(getppid());
  }
}

void exitless_after_trap(Process& proc, Thread& thread, uint64_t nr) {
  GuestEntry* e = thread.vcpu ? thread.vcpu->entry() : nullptr;
  if (!e || proc.seccomp_strict_seen.load()) return;
  if (changes_host_thread(nr)) {
    // The worker shares what it had from T when T made it; credentials and
    // unshared tables it would not: a new one is made at the next trap.
    exitless_stop_worker(thread);
    bind_ids(thread);
  }
  if (nr == SYS_getppid && g_cfg.answers) {
    // From now on the entry answers getppid (refreshed at every exit).
    g_ppid_on.store(true);
    if (GuestProcessPage* page = page_of(proc)) page->set_ppid(getppid());
    e->set_ppid_budget(kPpidBudget);
  }
  ExitlessWorker* w = thread.worker.get();
  // A state the guest wrote itself, or a call answered after the entry gave
  // up on it: the channel starts clean.
  if (e->state() != SHIM_REQ_IDLE && (!w || !w->busy.load())) e->reset();
  if (!g_cfg.workers || nr >= SHIM_CHANNEL_NRS || !g_allowed[nr]) return;
  g_traps_allowed.fetch_add(1, std::memory_order_relaxed);
  // Only a thread whose allowlisted calls come close together gains from a
  // worker that watches for the next one: sparse calls stay on the exit
  // path, and cost no thread and no spinning.
  int64_t now = steady_ns(), last = thread.exitless_last_trap;
  thread.exitless_last_trap = now;
  int64_t gap =
      ExitlessPolicy::wake_gap(now, last, w ? w->last_call_ns.load(std::memory_order_relaxed) : 0,
                               static_cast<int64_t>(g_cfg.worker_spin_us) * 1000);
  if (gap < 0) {
    g_trap_far.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  if (!w) {
    g_trap_new.fetch_add(1, std::memory_order_relaxed);
    start_worker(proc, thread, *e);
    return;
  }
  // One wake per sleep: T takes `sleeping` back itself.
  if (now < w->backoff_until.load())
    g_trap_backoff.fetch_add(1, std::memory_order_relaxed);
  else if (!w->sleeping.load())
    g_trap_busy.fetch_add(1, std::memory_order_relaxed);
  if (now >= w->backoff_until.load(std::memory_order_relaxed) && w->sleeping.exchange(false)) {
    g_trap_woke.fetch_add(1, std::memory_order_relaxed);
    w->gap_ns.store(gap, std::memory_order_relaxed);
    keep_off_thread_cpu(*w);
    w->wake.fetch_add(1);
    futex(&w->wake, FUTEX_WAKE_PRIVATE, 1);
  }
}

void exitless_taken_back(Thread& thread) {
  ExitlessWorker* w = thread.worker.get();
  GuestEntry* e = thread.vcpu ? thread.vcpu->entry() : nullptr;
  if (!w || !e) return;
  // W says it watches but does not run (preempted, or not scheduled yet):
  // no more posting until it finds out itself, and no wake for a while
  // (W's policy may make it longer when it judges its spin).
  g_taken_back.fetch_add(1, std::memory_order_relaxed);
  e->set_worker_awake(false);
  w->lost_ns.fetch_add(static_cast<int64_t>(g_cfg.entry_spin_us) * 1000);
  int64_t until = steady_ns() + kTakenBackSleepNs;
  if (w->backoff_until.load() < until) w->backoff_until.store(until);
}

bool exitless_claimed(Process& proc, Thread& t, SyscallArgs* args, int64_t* result) {
  ExitlessWorker* w = t.worker.get();
  GuestEntry* e = t.vcpu->entry();
  if (!w || !e) return false;
  g_claimed_exits.fetch_add(1, std::memory_order_relaxed);
  // The entry spun for this call before it exited: lost to the exitless
  // path (a call that blocks, or a worker that runs late).
  w->lost_ns.fetch_add(static_cast<int64_t>(g_cfg.entry_spin_us) * 1000);
  // A call the worker took and has not answered: wait for the answer,
  // sleeping. A signal for T (recorded by the host handler, which bumps
  // `event`), or another thread's execve, interrupts the worker's call.
  w->t_waiting.store(true, std::memory_order_seq_cst);
  t_wait_event = &w->event;
  bool interrupting = false;
  for (;;) {
    uint32_t ev = w->event.load(std::memory_order_seq_cst);
    if (!w->busy.load(std::memory_order_seq_cst)) break;
    if (signals_deliverable(t) || t.signals.stop.load()) {
      w->interrupt.store(true);
      syscall(SYS_tgkill, getpid(), w->tid.load(), kInterruptSignal);
      interrupting = true;
    }
    // While interrupting, again every 10 ms: the signal may have come just
    // before the worker entered its host call.
    timespec ten_ms{0, 10'000'000};
    futex(&w->event, FUTEX_WAIT_PRIVATE, ev, interrupting ? &ten_ms : nullptr);
  }
  t_wait_event = nullptr;
  w->t_waiting.store(false);
  e->reset();
  (void)proc;
  if (w->refused) return false;
  *args = w->args;
  *result = w->result;
  return true;
}

void exitless_seccomp_strict(Process& proc, Thread& thread) {
  proc.seccomp_strict_seen.store(true);
  exitless_stop_worker(thread);
  if (GuestEntry* e = thread.vcpu ? thread.vcpu->entry() : nullptr) e->set_allowed({});
  bind_ids(thread);
  if (GuestProcessPage* page = page_of(proc)) {
    // Other threads may be counted in a host futex wait: keep their counts.
    page->futex_waiters().fetch_or(GuestProcessPage::kFutexHostOnly);
    page->set_pid(-1);
    page->set_ppid(-1);
  }
}

void exitless_seccomp_synced(Thread& thread) {
  if (GuestEntry* e = thread.vcpu ? thread.vcpu->entry() : nullptr) {
    e->set_allowed({});
    e->set_ids(GuestIds{});
  }
}

void exitless_stop_worker(Thread& thread) {
  ExitlessWorker* w = thread.worker.get();
  if (!w) return;
  if (thread.vcpu && thread.vcpu->entry()) thread.vcpu->entry()->set_allowed({});
  w->stop.store(true);
  w->wake.fetch_add(1);
  futex(&w->wake, FUTEX_WAKE_PRIVATE, INT_MAX);
  while (!w->exited.load()) {
    if (w->busy.load()) {
      w->interrupt.store(true);
      syscall(SYS_tgkill, getpid(), w->tid.load(), kInterruptSignal);
    }
    timespec ten_ms{0, 10'000'000};
    futex(&w->exited, FUTEX_WAIT_PRIVATE, 0, &ten_ms);
  }
  pthread_join(w->pt, nullptr);
  thread.worker.reset();
}

void exitless_print_stats() {
  const char* want = getenv("ELFUSE_EXITLESS_STATS");
  if (!want || strcmp(want, "1") != 0) return;
  fprintf(stderr,
          "elfuse: exitless: %ld calls served by workers, %ld refused, %ld waited for at an "
          "exit, %ld allowlisted calls trapped, %ld taken back; %ld spins, %ld that did not pay; "
          "%ld us waited to be claimed\n",
          g_served.load(), g_refused.load(), g_claimed_exits.load(), g_traps_allowed.load(),
          g_taken_back.load(), g_spins.load(), g_bad_spins.load(), g_waited_ns.load() / 1000);
  fprintf(stderr,
          "elfuse: exitless: allowlisted traps: %ld far from the previous call, %ld made a "
          "worker, %ld woke one, %ld while it backed off, %ld while it was not yet asleep\n",
          g_trap_far.load(), g_trap_new.load(), g_trap_woke.load(), g_trap_backoff.load(),
          g_trap_busy.load());
}

void exitless_wake_from_signal_handler() {
  std::atomic<uint32_t>* ev = t_wait_event;
  if (!ev) return;
  ev->fetch_add(1);
  futex(ev, FUTEX_WAKE_PRIVATE, INT_MAX);
}

FutexWaitScope::FutexWaitScope(Process& proc) : page_(page_of(proc)) {
  if (page_) page_->futex_waiters().fetch_add(1, std::memory_order_seq_cst);
}

FutexWaitScope::~FutexWaitScope() {
  if (page_) page_->futex_waiters().fetch_sub(1, std::memory_order_seq_cst);
}

}  // namespace elfuse
