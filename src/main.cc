// elfuse [OPTIONS] PROGRAM [ARGS...]: run a Linux x86_64 program in a KVM
// virtual machine owned by this process. Options, checks on the program,
// and the wiring of memory, loader, VM and run loop.
#include <fcntl.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "base/log.h"
#include "base/private_fd.h"
#include "base/safe_copy.h"
#include "base/self_confine.h"
#include "base/timing.h"
#include "cli/options.h"
#include "fs/program_path.h"
#include "fs/sysroot.h"
#include "hv/hypervisor.h"
#include "kernel/exec.h"
#include "kernel/exitless.h"
#include "kernel/fork.h"
#include "kernel/peer.h"
#include "kernel/process.h"
#include "kernel/run_loop.h"
#include "kernel/signal.h"
#include "kernel/thread.h"
#include "mm/guest_limits.h"
#include "sandbox/limits.h"
#include "sandbox/supervisor.h"
#include "syscalls/dispatch.h"

extern char** environ;

namespace elfuse {
namespace {

constexpr const char* kVersion = "elfuse 0.1";
// Guest-physical memory: one lazily backed host reservation (host address
// space only). It is registered with KVM as the guest needs it: 256 MiB at
// start, then up to whole GiBs (docs/internals.md, "Guest physical memory").
constexpr uint64_t kPhysSize = 64ull << 30;

void usage(FILE* out) {
  fprintf(out,
          "usage: elfuse [--trace[=FILE]] [--no-aslr] [--no-vdso] [--sysroot DIR]\n"
          "              [--backend=KIND] [SANDBOX OPTIONS] [--] PROGRAM [ARGS...]\n"
          "Runs a Linux x86_64 program inside a KVM virtual machine.\n"
          "  --trace[=FILE]  print every syscall, strace-style (default: stderr); calls\n"
          "                  answered by the vDSO (clock_gettime, gettimeofday, time,\n"
          "                  getcpu) are not syscalls and do not show, as under strace\n"
          "  --no-aslr       no address-space randomization (as setarch -R)\n"
          "  --no-vdso       give programs no vDSO (as the kernel's vdso=0): those calls\n"
          "                  become syscalls, slower, and --trace shows them\n"
          "  --sysroot DIR   resolve every guest path inside DIR, as chroot DIR would\n"
          "                  (starts in DIR's /; PROGRAM and PATH are looked up inside)\n"
          "  --backend=KIND  pvm, hardware (Intel VMX / AMD SVM) or auto (default: the\n"
          "                  one /dev/kvm offers)\n"
          "  --version       print the version and the backend elfuse picks here\n"
          "Sandbox options (VALUE as the next word or after '='):\n"
          "  --env NAME=VALUE     set a variable for the program (repeatable)\n"
          "  --clear-env          start from an empty environment (then only --env's)\n"
          "  --workdir DIR        the program's initial working directory (inside the\n"
          "                       root with --sysroot); it must exist\n"
          "  --timeout SECONDS    wall-clock limit (fraction, s/m/h/d allowed): then every\n"
          "                       process of the run is killed (SIGKILL) and elfuse exits 124\n"
          "  --cpu-time SECONDS   RLIMIT_CPU of each process: SIGXCPU at SECONDS of CPU\n"
          "                       time, SIGKILL one second later\n"
          "  --max-file-size SIZE RLIMIT_FSIZE (bytes; K, M, G, T suffixes): a write past\n"
          "                       it gets SIGXFSZ, or EFBIG if that is ignored or caught\n"
          "  --nofile N           RLIMIT_NOFILE soft and hard limit N\n"
          "  --report=FILE        write a JSON record of the run to FILE when it ends\n"
          "                       (status, limit hit, wall and CPU time, peak RSS,\n"
          "                       processes created)\n"
          "  With --timeout or --report, the run ends when PROGRAM's process ends: any\n"
          "  process of it still running is killed then.\n"
          "Environment:\n"
          "  ELFUSE_NO_CONFINE=1  no seccomp filter on elfuse's own host threads (for\n"
          "                  debugging elfuse under strace or gdb; the program sees it)\n");
}

Options parse_options_or_exit(int argc, char** argv) {
  using Action = ParsedCommandLine::Action;
  ParsedCommandLine r = parse_options(std::vector<std::string>(argv + 1, argv + argc));
  if (r.options.backend) force_backend(*r.options.backend);
  switch (r.action) {
    case Action::kRun:
      break;
    case Action::kHelp:
      usage(stdout);
      exit(0);
    case Action::kVersion:
      printf("%s (backend: %s)\n", kVersion, backend_description().c_str());
      exit(0);
    case Action::kUsage:
      usage(stderr);
      exit(2);
    case Action::kError:
      log_error("%s", r.error.c_str());
      exit(2);
  }
  return std::move(r.options);
}

// Shell conventions: 127 when the program does not exist, 126 when it
// exists but cannot be executed.
[[noreturn]] void cannot_run(const std::string& what, const std::string& why, int status) {
  log_error("%s: %s", what.c_str(), why.c_str());
  exit(status);
}

// The first program, found and prepared as execvp(3) would run it
// (fs/program_path.h): each candidate is prepared like an execve, and its
// errno decides whether the search goes on. Shell conventions for the exit
// status: 127 when nothing was found (ENOENT), 126 otherwise.
PreparedExec prepare_first_or_die(const Options& o, const std::shared_ptr<const Sysroot>& root) {
  ExecRequest base;
  base.argv = o.argv;
  std::vector<std::string> inherited;
  for (char** e = environ; *e; e++) inherited.push_back(*e);
  base.envp = guest_environment(inherited, o.clear_env, o.env);
  base.sysroot = root;
  // PATH from the program's environment, as env(1) looks the program up
  // after changing its own.
  const char* path = nullptr;
  for (const std::string& e : base.envp)
    if (!path && e.rfind("PATH=", 0) == 0) path = e.c_str() + 5;
  std::optional<PreparedExec> found;
  std::string message;
  Result<std::string> r = search_program(o.argv[0], path, [&](const std::string& c) {
    ExecRequest req = base;
    req.path = c;
    ElfOr<PreparedExec> p = prepare_exec(std::move(req));
    if (p.ok()) {
      found.emplace(std::move(p.value()));
      return 0;
    }
    message = p.error().message;
    return p.error().linux_errno ? p.error().linux_errno : ENOEXEC;
  });
  if (!r.ok()) {
    // A name with a slash, or a search that stopped on an error: the
    // loader's message says what is wrong with that file.
    bool slash = o.argv[0].find('/') != std::string::npos;
    if (slash || (r.error() != ENOENT && r.error() != EACCES)) {
      log_error("%s", message.c_str());
      exit(r.error() == ENOENT ? 127 : 126);
    }
    cannot_run(o.argv[0], r.error() == ENOENT ? "command not found" : strerror(r.error()),
               r.error() == ENOENT ? 127 : 126);
  }
  return std::move(*found);
}

// Guest descriptors are host descriptors below a floor; elfuse's own sit at
// or above it. The guest sees an RLIMIT_NOFILE whose every descriptor it can
// use (plan_fd_floor).
FdRules setup_fd_floor() {
  rlimit lim;
  getrlimit(RLIMIT_NOFILE, &lim);
  // With CAP_SYS_RESOURCE (and fs.nr_open allowing it) elfuse raises its own
  // hard limit above the guest's, so the guest keeps every descriptor its
  // hard limit allows, as natively: the floor is that limit.
  bool raised = false;
  if (lim.rlim_max <= kMaxFdFloor) {
    rlimit wider = {lim.rlim_max + kPrivateFds, lim.rlim_max + kPrivateFds};
    raised = setrlimit(RLIMIT_NOFILE, &wider) == 0;
  }
  FdPlan plan = plan_fd_floor(lim.rlim_cur, lim.rlim_max, raised);
  if (!raised) {
    rlimit host = {plan.host_soft, plan.host_hard};
    setrlimit(RLIMIT_NOFILE, &host);
  }
  FdRules rules;
  rules.floor = plan.floor;
  rules.nofile_soft = plan.guest_soft;
  rules.nofile_hard = plan.guest_hard;
  set_private_fd_floor(rules.floor);
  return rules;
}

// The guest's limits start as elfuse's host limits. elfuse then raises its own soft limits of the
// resources it keeps for the guest to their hard limits: the guest's soft limits bound the guest,
// not elfuse.
void setup_guest_limits(GuestRlimits& limits) {
  for (int r = 0; r < kRlimits; r++) {
    // RLIMIT_NOFILE is FdRules' (setup_fd_floor).
    if (!rlimit_is_virtual(r) || r == RLIMIT_NOFILE) continue;
    rlimit lim{};
    if (getrlimit(r, &lim) != 0) continue;
    limits.set(r, lim.rlim_cur, lim.rlim_max);
    if (r != RLIMIT_STACK && lim.rlim_cur != lim.rlim_max) {
      lim.rlim_cur = lim.rlim_max;
      setrlimit(r, &lim);
    }
  }
}

// VmSize and VmData of this process (bytes), from /proc/self/status.
void own_vm_usage(uint64_t* vm_size, uint64_t* vm_data) {
  *vm_size = *vm_data = 0;
  FILE* f = fopen("/proc/self/status", "re");
  if (!f) return;
  char line[256];
  unsigned long long kb;
  while (fgets(line, sizeof line, f)) {
    if (sscanf(line, "VmSize: %llu kB", &kb) == 1) *vm_size = kb << 10;
    if (sscanf(line, "VmData: %llu kB", &kb) == 1) *vm_data = kb << 10;
  }
  fclose(f);
}

// The host reservation behind guest-physical memory: kPhysSize, or what
// elfuse's host RLIMIT_AS / RLIMIT_DATA (ulimit -v, ulimit -d) leave of it
// once elfuse keeps kOwnRoom for itself. Fatal, saying what is needed, when
// less than kMinPhys is left.
uint64_t reservation_size() {
  constexpr uint64_t kMinPhys = 512ull << 20;
  constexpr uint64_t kOwnRoom = 1ull << 30;
  rlimit as{}, data{};
  getrlimit(RLIMIT_AS, &as);
  getrlimit(RLIMIT_DATA, &data);
  if (as.rlim_cur == RLIM_INFINITY && data.rlim_cur == RLIM_INFINITY) return kPhysSize;
  uint64_t vm_size, vm_data;
  own_vm_usage(&vm_size, &vm_data);
  uint64_t size = reservation_budget(kPhysSize, kMinPhys, kOwnRoom, as.rlim_cur, data.rlim_cur,
                                     vm_size, vm_data);
  if (size == 0) {
    bool by_as = as.rlim_cur != RLIM_INFINITY &&
                 (data.rlim_cur == RLIM_INFINITY || as.rlim_cur <= data.rlim_cur);
    uint64_t lim = by_as ? as.rlim_cur : data.rlim_cur;
    fatal(
        "cannot reserve guest memory: %s (ulimit %s) is %llu KiB; elfuse needs at least %llu KiB "
        "(%llu MiB of guest memory and %llu MiB for itself)",
        by_as ? "RLIMIT_AS" : "RLIMIT_DATA", by_as ? "-v" : "-d",
        static_cast<unsigned long long>(lim >> 10),
        static_cast<unsigned long long>((kMinPhys + kOwnRoom + (by_as ? vm_size : vm_data)) >> 10),
        static_cast<unsigned long long>(kMinPhys >> 20),
        static_cast<unsigned long long>(kOwnRoom >> 20));
  }
  return size;
}

void open_trace(const Options& o) {
  if (!o.trace) return;
  int fd = o.trace_file.empty()
               ? dup(2)
               : open(o.trace_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) fatal("cannot open trace file '%s': %s", o.trace_file.c_str(), strerror(errno));
  fd = move_to_private_fd(fd);
  FILE* f = fdopen(fd, "w");
  if (!f) fatal("fdopen: %s", strerror(errno));
  setvbuf(f, nullptr, _IOLBF, 0);
  set_trace_output(f);
}

int run(const Options& o) {
  // From here on, elfuse's host threads (and those it starts later, and its
  // forked children) cannot make the host calls it never needs
  // (base/self_confine.h): before the first byte of the guest's program is
  // parsed.
  confine::confine_self();
  timing_mark("confined");
  FdRules fd_rules = setup_fd_floor();
  static GuestRlimits guest_limits;
  setup_guest_limits(guest_limits);
  const uint64_t phys_size = reservation_size();
  auto* memory = static_cast<uint8_t*>(mmap(nullptr, phys_size, PROT_READ | PROT_WRITE,
                                            MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0));
  if (memory == MAP_FAILED)
    fatal("cannot reserve %llu MiB of guest memory: %s",
          static_cast<unsigned long long>(phys_size >> 20), strerror(errno));
  // The first VM is built on another host thread meanwhile (its descriptors
  // go above the fd floor, set just now).
  start_first_vm(memory, phys_size);
  open_trace(o);
  // --trace sees every call: nothing is answered inside the guest then.
  exitless_configure(o.trace);
  std::shared_ptr<const Sysroot> sysroot;
  if (!o.sysroot.empty()) {
    Result<std::shared_ptr<Sysroot>> r = Sysroot::open(o.sysroot);
    if (!r.ok()) {
      log_error("--sysroot %s: %s", o.sysroot.c_str(), strerror(r.error()));
      exit(125);
    }
    // As chroot(1): the program starts in the new root's "/". The cwd is
    // then always a host directory inside the root (chdir and fchdir keep
    // it there), which relative lookups rely on.
    if (fchdir((*r)->root_fd()) < 0) {
      log_error("--sysroot %s: %s", o.sysroot.c_str(), strerror(errno));
      exit(125);
    }
    sysroot = std::move(*r);
  }
  if (!o.workdir.empty()) sandbox::enter_workdir(o.workdir, sysroot.get());
  timing_mark("options, fd floor, host signals, exitless configured");
  std::optional<PreparedExec> prepared(prepare_first_or_die(o, sysroot));
  timing_mark("program found and opened");

  Process proc(memory, phys_size);
  proc.pid = getpid();
  proc.fds = fd_rules;
  proc.limits.assign(guest_limits);
  proc.personality = o.no_aslr ? 0x0040000 /* ADDR_NO_RANDOMIZE */ : 0;
  proc.no_aslr_option = o.no_aslr;
  proc.vdso_enabled = !o.no_vdso;
  proc.sysroot = sysroot;
  signals_inherit(proc);
  // The registry of this run's processes (kernel/peer.h): every fork
  // inherits it.
  peer::start_run(proc);

  auto thread = std::make_unique<Thread>();
  thread->tid = gettid();
  Thread& t = *thread;
  proc.threads.push_back(std::move(thread));
  if (auto r = commit_exec(proc, t, prepared.value()); !r.ok())
    cannot_run(o.argv[0], strerror(r.error()), 126);
  // Last, so that --max-file-size does not bound elfuse's own start-up
  // files (the vDSO memfd).
  sandbox::apply_limits(o, proc.fds);
  run_thread(proc, t);
  // The first guest thread called exit(2) while others run on.
  host_thread_done(proc);
  return 0;  // not reached: the last thread ends the process
}

}  // namespace
}  // namespace elfuse

int main(int argc, char** argv) {
  elfuse::timing_mark("main");
  elfuse::signals_record_inherited();
  // After the record (it reads the inherited SIG_IGN): elfuse's SIGSEGV and
  // SIGBUS handler for its fault-tolerant copies, in place before any
  // thread or guest memory exists.
  elfuse::safe_copy::install();
  elfuse::signals_install_kick_handler();
  elfuse::Options o = elfuse::parse_options_or_exit(argc, argv);
  if (o.supervised()) {
    elfuse::sandbox::SupervisorConfig config;
    config.timeout_ns = o.timeout_ns;
    config.report = o.report;
    if (o.cpu_time_s) config.cpu_hard_s = *o.cpu_time_s + 1;
    elfuse::sandbox::supervise(config);  // returns in the sandbox's first process
    elfuse::set_fork_hook(elfuse::sandbox::count_process);
  }
  return elfuse::run(o);
}
