#include "kernel/exec.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>

#include "base/log.h"
#include "base/private_fd.h"
#include "fs/sysroot.h"
#include "kernel/binfmt_script.h"
#include "kernel/exitless.h"
#include "kernel/process.h"
#include "kernel/procfs.h"
#include "kernel/signal.h"
#include "loader/load.h"
#include "mm/layout.h"
#include "shim/shim_abi.h"
#include "syscalls/posix_timer.h"
#include "vdso/vdso.h"

namespace elfuse {
namespace {

// Guest-physical layout (docs/internals.md, "Guest physical memory").
constexpr uint64_t kTablePoolStart = SHIM_PHYS_END;
constexpr uint64_t kTablePoolEnd = 64ull << 20;
constexpr uint64_t kDataStart = 64ull << 20;
// Guest-physical memory registered at start; the pool grows to 1 GiB, then
// in 1 GiB steps (PhysAllocator::set_growth, Vm::register_memory). KVM's
// per-slot metadata makes a smaller first slot cheaper: 256 MiB instead of
// 1 GiB saves about 0.5 ms of CPU per VM, at exec and at fork
// (docs/performance.md).
constexpr uint64_t kInitialPhys = 256ull << 20;

// ELFUSE_INITIAL_PHYS=MiB replaces kInitialPhys, for tests and measurements
// only (to make the pool grow early or not at all); not a user option.
uint64_t initial_phys(uint64_t reservation_size) {
  static const uint64_t from_env = [] {
    const char* s = getenv("ELFUSE_INITIAL_PHYS");
    if (!s || !*s) return uint64_t{0};
    char* end;
    unsigned long long mib = strtoull(s, &end, 10);
    if (*end || mib == 0) return uint64_t{0};
    return uint64_t{mib} << 20;
  }();
  uint64_t v = from_env ? from_env : kInitialPhys;
  return std::clamp<uint64_t>(v, kDataStart + (2ull << 20), reservation_size);
}

constexpr int kAddrNoRandomize = 0x0040000;

uint64_t random_u64() {
  uint64_t v = 0;
  (void)!getrandom(&v, sizeof v, 0);
  return v;
}

uint64_t read_sysctl(const char* path, uint64_t fallback) {
  FILE* f = fopen(path, "re");
  if (!f) return fallback;
  unsigned long long v;
  bool ok = fscanf(f, "%llu", &v) == 1;
  fclose(f);
  return ok ? v : fallback;
}

ElfError exec_error(int err, const std::string& what) {
  return ElfError{ElfErrorKind::kIo, err, what + ": " + strerror(err)};
}

std::string absolute_path(int fd, const std::string& path) {
  char buf[PATH_MAX];
  std::string link = "/proc/self/fd/" + std::to_string(fd);
  ssize_t n = readlink(link.c_str(), buf, sizeof buf - 1);
  if (n > 0) return std::string(buf, n);
  return path;
}

AuxvInputs auxv_inputs() {
  AuxvInputs in;
  in.hwcap = getauxval(AT_HWCAP);
  in.hwcap2 = getauxval(AT_HWCAP2);
  in.minsigstksz = getauxval(AT_MINSIGSTKSZ);
  in.clktck = sysconf(_SC_CLK_TCK);
  in.uid = getuid();
  in.euid = geteuid();
  in.gid = getgid();
  in.egid = getegid();
  return in;
}

// fs/file.c do_close_on_exec: every guest descriptor marked FD_CLOEXEC.
void close_on_exec(const FdRules& rules) {
  DIR* d = opendir("/proc/self/fd");
  if (!d) return;
  int self = dirfd(d);
  std::vector<int> to_close;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] == '.') continue;
    int fd = atoi(e->d_name);
    if (fd == self || !rules.guest_fd(fd)) continue;
    int flags = fcntl(fd, F_GETFD);
    if (flags >= 0 && (flags & FD_CLOEXEC)) to_close.push_back(fd);
  }
  closedir(d);
  for (int fd : to_close) close(fd);
}

// fs/exec.c flush_signal_handlers: caught signals go back to SIG_DFL (the
// host's handler too); ignored ones stay ignored (kernel/signal.h).
void reset_caught_signals(Process& proc) {
  signals_on_exec(proc);
}

std::string base_name(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

}  // namespace

ElfOr<PreparedExec> prepare_exec(ExecRequest request) {
  if (request.execfn.empty()) request.execfn = request.path;
  int open_flags = O_RDONLY | O_CLOEXEC;
  if (request.flags & AT_SYMLINK_NOFOLLOW) open_flags |= O_NOFOLLOW;
  int fd;
  if (request.path.empty() && (request.flags & AT_EMPTY_PATH)) {
    // The guest's own fd (fexecve): no name to resolve. Reopened for
    // reading through elfuse's /proc/self/fd, since it may be O_PATH.
    fd = open(("/proc/self/fd/" + std::to_string(request.dirfd)).c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) errno = EBADF;
  } else if (request.sysroot) {
    Result<int> r = request.sysroot->open(request.dirfd, request.path, open_flags, 0);
    fd = r ? *r : (errno = r.error(), -1);
  } else {
    fd = openat(request.dirfd, request.path.c_str(), open_flags);
  }
  if (fd < 0)
    return exec_error(errno == ELOOP && (request.flags & AT_SYMLINK_NOFOLLOW) ? ELOOP : errno,
                      request.path);
  UniqueFd file(move_to_private_fd(fd));
  std::string name = request.path;  // for messages: the file being tried
  // bprm->interp: the name the current file was executed by.
  std::string interp_name = request.execfn;
  for (int depth = 0;; depth++) {
    // fs/exec.c exec_binprm: a sixth file to try is ELOOP.
    if (depth > kMaxInterpDepth) return exec_error(ELOOP, request.path);
    struct stat st;
    if (fstat(file.get(), &st) < 0) return exec_error(errno, name);
    // fs/exec.c do_open_execat: a regular file with execute permission.
    if (!S_ISREG(st.st_mode)) return exec_error(EACCES, name);
    std::string proc_path = "/proc/self/fd/" + std::to_string(file.get());
    if (access(proc_path.c_str(), X_OK) < 0) return exec_error(EACCES, name);
    // fs/exec.c prepare_binprm: the first BINPRM_BUF_SIZE bytes, zero-padded.
    char head[kBinprmBufSize] = {};
    ssize_t got = pread(file.get(), head, sizeof head, 0);
    if (got < 0) return exec_error(errno, name);
    if (!is_shebang(head, static_cast<size_t>(got))) break;
    Result<Shebang> line = parse_shebang(head);
    if (!line) return exec_error(line.error(), name);
    if (request.path_inaccessible) return exec_error(ENOENT, name);
    request.argv = script_argv(*line, interp_name, std::move(request.argv));
    interp_name = line->interp;  // bprm_change_interp
    name = line->interp;
    // open_exec(i_name): relative to the cwd, following symlinks.
    int ifd;
    if (request.sysroot) {
      Result<int> r = request.sysroot->open(AT_FDCWD, name, O_RDONLY | O_CLOEXEC, 0);
      ifd = r ? *r : (errno = r.error(), -1);
    } else {
      ifd = open(name.c_str(), O_RDONLY | O_CLOEXEC);
    }
    if (ifd < 0) return exec_error(errno, name);
    file = UniqueFd(move_to_private_fd(ifd));
  }
  ElfOr<FdReader> reader = FdReader::open(file.get());
  if (!reader.ok()) return reader.error();
  ElfOr<ElfImage> image = parse_elf(reader.value());
  if (!image.ok()) return image.error();
  PreparedExec prepared;
  prepared.exe_path = absolute_path(file.get(), name);
  if (request.sysroot) {
    // /proc/self/exe as the guest sees it: the name inside the root.
    if (auto g = request.sysroot->guest_path(prepared.exe_path)) prepared.exe_path = *g;
  }
  prepared.fd = std::move(file);
  prepared.comm_from_file = request.path.empty() && (request.flags & AT_EMPTY_PATH);
  request.path = request.execfn;  // from here on: AT_EXECFN and the task name
  prepared.request = std::move(request);
  return prepared;
}

Result<void> commit_exec(Process& proc, Thread& thread, PreparedExec& prepared) {
  ExecRequest& req = prepared.request;
  // Drop the old image: vCPU, VM and every byte of guest memory but the
  // shim's, which install_shim rewrites. The worker uses all three.
  exitless_stop_worker(thread);
  thread.vcpu.reset();
  proc.vm.reset();
  proc.memory.reset();
  madvise(proc.reservation + SHIM_PHYS_END, proc.reservation_size - SHIM_PHYS_END, MADV_DONTNEED);
  close_on_exec(proc.fds);
  reset_caught_signals(proc);
  posix_timers_on_exec();
  // kernel/sched/membarrier.c membarrier_exec_mmap: the new mm has no
  // registrations (the host process keeps its own; see sys_sched.cc).
  proc.membarrier_registered = 0;
  if (proc.vfork_done_fd >= 0) {
    close(proc.vfork_done_fd);
    proc.vfork_done_fd = -1;
  }

  const uint64_t initial = initial_phys(proc.reservation_size);
  proc.vm = create_vm_or_die(proc.reservation, proc.reservation_size, initial);
  // The host's vDSO data pages become guest memory of the new VM. Without
  // them (no usable host vDSO, or a backend that cannot share them) or with
  // --no-vdso the program gets no vDSO, as under the kernel's vdso=0
  // (arch_prctl(ARCH_MAP_VDSO_64) can still map one when they are there).
  proc.vdso_attached = vdso_attach(*proc.vm).ok();
  const bool vdso = proc.vdso_attached && proc.vdso_enabled;
  rlimit stack_limit;
  getrlimit(RLIMIT_STACK, &stack_limit);
  int va_space = static_cast<int>(read_sysctl("/proc/sys/kernel/randomize_va_space", 2));
  bool randomize = !(proc.personality & kAddrNoRandomize) && va_space != 0;
  LayoutInputs li{proc.vm->task_size(), randomize, stack_limit.rlim_cur,
                  read_sysctl("/proc/sys/vm/mmap_min_addr", 65536), random_u64};
  proc.memory = std::make_unique<MemoryManager>(
      proc.reservation, proc.reservation_size,
      PhysAllocator(initial, kTablePoolStart, kTablePoolEnd, kDataStart), &proc.shadow_sync,
      make_layout(li));
  TRY(proc.vm->install_shim(proc.mm().page_tables()));

  LoadOptions lo;
  lo.randomize = randomize;
  lo.randomize_va_space = va_space;
  lo.random = random_u64;
  lo.exe_path = prepared.exe_path;
  lo.path_of_fd = [&proc](int fd) { return guest_file_path(proc, fd); };
  InterpOpener open_interp = [&proc](const std::string& interp) -> ElfOr<UniqueFd> {
    // PT_INTERP is opened like any exec path (fs/binfmt_elf.c open_exec):
    // inside the root under --sysroot.
    int ifd;
    if (proc.sysroot) {
      Result<int> r = proc.sysroot->open(AT_FDCWD, interp, O_RDONLY | O_CLOEXEC, 0);
      ifd = r ? *r : (errno = r.error(), -1);
    } else {
      ifd = open(interp.c_str(), O_RDONLY | O_CLOEXEC);
    }
    if (ifd < 0) return exec_error(errno, interp);
    return UniqueFd(move_to_private_fd(ifd));
  };
  ElfOr<LoadedProgram> prog = load_program(proc.mm(), prepared.fd.get(), lo, open_interp);
  if (!prog.ok()) {
    log_error("%s: %s", req.path.c_str(), prog.error().message.c_str());
    return Errno{prog.error().linux_errno ? prog.error().linux_errno : ENOEXEC};
  }
  prepared.fd.reset();
  // fs/binfmt_elf.c load_elf_binary: ARCH_SETUP_ADDITIONAL_PAGES after the
  // program and its interpreter are mapped, before the tables on the stack.
  AuxvInputs auxv_in = auxv_inputs();
  if (vdso) auxv_in.sysinfo_ehdr = TRY(vdso_map(proc.mm(), 0));

  InitialStackInput si;
  si.argv = std::move(req.argv);
  si.envp = std::move(req.envp);
  si.execfn = req.path;
  si.auxv = linux_auxv(auxv_in, prog.value());
  (void)!getrandom(si.random.data(), si.random.size(), 0);
  si.align_random = randomize ? static_cast<uint32_t>(random_u64() % 8192) : 0;
  si.rlimit_stack = stack_limit.rlim_cur;
  StackOptions so;
  so.rlimit_stack = stack_limit.rlim_cur;
  so.executable = prog->stack_executable;
  MappedStack stack = TRY(map_initial_stack(proc.mm(), std::move(si), so));

  thread.vcpu = TRY(proc.vm->create_vcpu(proc.mm().cr3(), VcpuStart{prog->entry, stack.rsp()}));
  proc.exe_path = prepared.exe_path;
  proc.exec_layout = exec_layout_of(prog.value(), stack, proc.mm().layout().brk_start);
  // fs/exec.c __set_task_comm: the task name is the file's base name.
  prctl(PR_SET_NAME, base_name(prepared.comm_from_file ? prepared.exe_path : req.path).c_str(), 0,
        0, 0);
  exitless_on_exec(proc, thread);
  return Ok();
}

}  // namespace elfuse
