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
#include <string>
#include <vector>

#include "base/log.h"
#include "base/private_fd.h"
#include "fs/program_path.h"
#include "hv/hypervisor.h"
#include "kernel/exec.h"
#include "kernel/process.h"
#include "kernel/run_loop.h"
#include "syscalls/dispatch.h"

extern char** environ;

namespace elfuse {
namespace {

constexpr const char* kVersion = "elfuse 0.1 (backend: PVM)";
// Guest-physical memory: one lazily backed host reservation (host address
// space only). It is registered with KVM 1 GiB at a time as the guest needs
// it (docs/internals.md, "Guest physical memory").
constexpr uint64_t kPhysSize = 64ull << 30;

struct Options {
  bool trace = false;
  std::string trace_file;
  bool no_aslr = false;
  std::vector<std::string> argv;  // PROGRAM ARGS...
};

void usage(FILE* out) {
  fprintf(out,
          "usage: elfuse [--trace[=FILE]] [--no-aslr] [--] PROGRAM [ARGS...]\n"
          "Runs a Linux x86_64 program inside a KVM virtual machine.\n"
          "  --trace[=FILE]  print every syscall, strace-style (default: stderr)\n"
          "  --no-aslr       no address-space randomization (as setarch -R)\n"
          "  --version       print the version and the backend\n");
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
    } else if (a == "--help" || a == "-h") {
      usage(stdout);
      exit(0);
    } else if (a == "--version") {
      puts(kVersion);
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

std::string resolve_or_die(const std::string& name) {
  Result<std::string> path = resolve_program(name, getenv("PATH"));
  if (!path.ok()) cannot_run(name, strerror(path.error()), path.error() == ENOENT ? 127 : 126);
  struct stat st;
  if (stat(path->c_str(), &st) < 0) cannot_run(name, strerror(errno), errno == ENOENT ? 127 : 126);
  if (S_ISDIR(st.st_mode)) cannot_run(name, strerror(EISDIR), 126);
  if (!S_ISREG(st.st_mode) || access(path->c_str(), X_OK) < 0)
    cannot_run(name, strerror(EACCES), 126);
  return *path;
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
  uint64_t floor = hard >= 65536 + 256 ? 65536 : (hard > 256 ? hard - 128 : 128);
  rules.floor = static_cast<int>(floor);
  rlimit raised = lim;
  raised.rlim_cur = std::min<uint64_t>(hard, floor + 256);
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
  FdRules fd_rules = setup_fd_floor();
  open_trace(o);
  std::string path = resolve_or_die(o.argv[0]);

  ExecRequest request;
  request.path = path;
  request.argv = o.argv;
  for (char** e = environ; *e; e++) request.envp.push_back(*e);
  ElfOr<PreparedExec> prepared = prepare_exec(std::move(request));
  if (!prepared.ok()) {
    log_error("%s", prepared.error().message.c_str());
    exit(prepared.error().linux_errno == ENOENT ? 127 : 126);
  }

  auto* memory = static_cast<uint8_t*>(mmap(nullptr, kPhysSize, PROT_READ | PROT_WRITE,
                                            MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0));
  if (memory == MAP_FAILED) fatal("cannot reserve guest memory: %s", strerror(errno));
  Process proc(memory, kPhysSize);
  proc.pid = getpid();
  proc.fds = fd_rules;
  proc.personality = o.no_aslr ? 0x0040000 /* ADDR_NO_RANDOMIZE */ : 0;
  proc.no_aslr_option = o.no_aslr;

  auto thread = std::make_unique<Thread>();
  thread->tid = gettid();
  Thread& t = *thread;
  proc.threads.push_back(std::move(thread));
  if (auto r = commit_exec(proc, t, prepared.value()); !r.ok())
    cannot_run(o.argv[0], strerror(r.error()), 126);
  run_thread(proc, t);
}

}  // namespace
}  // namespace elfuse

int main(int argc, char** argv) {
  elfuse::Options o = elfuse::parse_options(argc, argv);
  return elfuse::run(o);
}
