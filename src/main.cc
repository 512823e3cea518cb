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
#include "base/self_confine.h"
#include "base/timing.h"
#include "fs/program_path.h"
#include "fs/sysroot.h"
#include "hv/hypervisor.h"
#include "kernel/exec.h"
#include "kernel/exitless.h"
#include "kernel/process.h"
#include "kernel/run_loop.h"
#include "kernel/signal.h"
#include "kernel/thread.h"
#include "syscalls/dispatch.h"

extern char** environ;

namespace elfuse {
namespace {

constexpr const char* kVersion = "elfuse 0.1";
// Guest-physical memory: one lazily backed host reservation (host address
// space only). It is registered with KVM as the guest needs it: 256 MiB at
// start, then up to whole GiBs (docs/internals.md, "Guest physical memory").
constexpr uint64_t kPhysSize = 64ull << 30;

struct Options {
  bool trace = false;
  std::string trace_file;
  bool no_aslr = false;
  bool no_vdso = false;
  std::string sysroot;  // --sysroot DIR; empty: the host's root
  Backend backend = Backend::kAuto;
  std::vector<std::string> argv;  // PROGRAM ARGS...
};

void usage(FILE* out) {
  fprintf(out,
          "usage: elfuse [--trace[=FILE]] [--no-aslr] [--no-vdso] [--sysroot DIR]\n"
          "              [--backend=KIND] [--] PROGRAM [ARGS...]\n"
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
          "Environment:\n"
          "  ELFUSE_NO_CONFINE=1  no seccomp filter on elfuse's own host threads (for\n"
          "                  debugging elfuse under strace or gdb; the program sees it)\n");
}

Options parse_options(int argc, char** argv) {
  Options o;
  int i = 1;
  for (; i < argc; i++) {
    std::string a = argv[i];
    if (a == "--") {
      i++;
      break;
    }
    if (a.size() < 2 || a[0] != '-') break;
    if (a == "--trace") {
      o.trace = true;
    } else if (a.rfind("--trace=", 0) == 0) {
      o.trace = true;
      o.trace_file = a.substr(8);
    } else if (a == "--no-aslr") {
      o.no_aslr = true;
    } else if (a == "--no-vdso") {
      o.no_vdso = true;
    } else if (a == "--sysroot" || a.rfind("--sysroot=", 0) == 0) {
      if (a == "--sysroot") {
        if (i + 1 >= argc) {
          log_error("--sysroot needs a directory (see elfuse --help)");
          exit(2);
        }
        o.sysroot = argv[++i];
      } else {
        o.sysroot = a.substr(10);
      }
      if (o.sysroot.empty()) {
        log_error("--sysroot needs a directory (see elfuse --help)");
        exit(2);
      }
    } else if (a == "--backend" || a.rfind("--backend=", 0) == 0) {
      std::string kind;
      if (a == "--backend") {
        if (i + 1 < argc) kind = argv[++i];
      } else {
        kind = a.substr(10);
      }
      if (kind == "pvm") {
        o.backend = Backend::kPvm;
      } else if (kind == "hardware" || kind == "hw") {
        o.backend = Backend::kHardware;
      } else if (kind == "auto") {
        o.backend = Backend::kAuto;
      } else {
        log_error("--backend needs pvm, hardware or auto (see elfuse --help)");
        exit(2);
      }
      force_backend(o.backend);
    } else if (a == "--help" || a == "-h") {
      usage(stdout);
      exit(0);
    } else if (a == "--version") {
      printf("%s (backend: %s)\n", kVersion, backend_description().c_str());
      exit(0);
    } else {
      log_error("unknown option '%s' (see elfuse --help)", a.c_str());
      exit(2);
    }
  }
  for (; i < argc; i++) o.argv.push_back(argv[i]);
  if (o.argv.empty()) {
    usage(stderr);
    exit(2);
  }
  return o;
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
  for (char** e = environ; *e; e++) base.envp.push_back(*e);
  base.sysroot = root;
  std::optional<PreparedExec> found;
  std::string message;
  Result<std::string> r = search_program(o.argv[0], getenv("PATH"), [&](const std::string& c) {
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
// or above it. The guest sees the RLIMIT_NOFILE it was started with.
FdRules setup_fd_floor() {
  rlimit lim;
  getrlimit(RLIMIT_NOFILE, &lim);
  FdRules rules;
  rules.nofile_soft = lim.rlim_cur;
  rules.nofile_hard = lim.rlim_max;
  uint64_t hard = lim.rlim_max;
  // Room above the floor: a vCPU descriptor per guest thread (up to
  // SHIM_MAX_VCPUS = 1024) plus elfuse's others.
  constexpr uint64_t kPrivate = 1024 + 128;
  // With CAP_SYS_RESOURCE (and fs.nr_open allowing it) elfuse raises its own
  // hard limit above the guest's, so the guest keeps every descriptor its
  // hard limit allows, as natively: the floor is that limit.
  if (hard < 65536 + kPrivate) {
    rlimit wider = {lim.rlim_cur, hard + kPrivate};
    if (setrlimit(RLIMIT_NOFILE, &wider) == 0) {
      rules.floor = static_cast<int>(hard);
      wider.rlim_cur = wider.rlim_max;
      setrlimit(RLIMIT_NOFILE, &wider);
      set_private_fd_floor(rules.floor);
      return rules;
    }
  }
  uint64_t floor = hard >= 65536 + kPrivate ? 65536
                   : hard > 2 * kPrivate    ? hard - kPrivate
                   : hard > 256             ? hard - 128
                                            : 128;
  rules.floor = static_cast<int>(floor);
  rlimit raised = lim;
  raised.rlim_cur = std::min<uint64_t>(hard, floor + kPrivate);
  setrlimit(RLIMIT_NOFILE, &raised);
  set_private_fd_floor(rules.floor);
  return rules;
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
  auto* memory = static_cast<uint8_t*>(mmap(nullptr, kPhysSize, PROT_READ | PROT_WRITE,
                                            MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0));
  if (memory == MAP_FAILED) fatal("cannot reserve guest memory: %s", strerror(errno));
  // The first VM is built on another host thread meanwhile (its descriptors
  // go above the fd floor, set just now).
  start_first_vm(memory, kPhysSize);
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
  timing_mark("options, fd floor, host signals, exitless configured");
  std::optional<PreparedExec> prepared(prepare_first_or_die(o, sysroot));
  timing_mark("program found and opened");

  Process proc(memory, kPhysSize);
  proc.pid = getpid();
  proc.fds = fd_rules;
  proc.personality = o.no_aslr ? 0x0040000 /* ADDR_NO_RANDOMIZE */ : 0;
  proc.no_aslr_option = o.no_aslr;
  proc.vdso_enabled = !o.no_vdso;
  proc.sysroot = sysroot;
  signals_inherit(proc);

  auto thread = std::make_unique<Thread>();
  thread->tid = gettid();
  Thread& t = *thread;
  proc.threads.push_back(std::move(thread));
  if (auto r = commit_exec(proc, t, prepared.value()); !r.ok())
    cannot_run(o.argv[0], strerror(r.error()), 126);
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
  elfuse::Options o = elfuse::parse_options(argc, argv);
  return elfuse::run(o);
}
