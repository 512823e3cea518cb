#include "kernel/exec.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/securebits.h>
#include <pthread.h>
#include <signal.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>

#include "base/helper_thread.h"
#include "base/log.h"
#include "base/private_fd.h"
#include "base/timing.h"
#include "fs/proc_view.h"
#include "fs/sysroot.h"
#include "kernel/binfmt_script.h"
#include "kernel/exec_creds.h"
#include "kernel/exitless.h"
#include "kernel/process.h"
#include "kernel/signal.h"
#include "loader/load.h"
#include "mm/layout.h"
#include "shim/shim_abi.h"
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
  std::string link = "/proc/thread-self/fd/" + std::to_string(fd);
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

// The calling host thread's capability sets (the guest thread's).
ExecCredsInput current_creds(bool no_new_privs) {
  ExecCredsInput in;
  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct d[2] = {};
  if (syscall(SYS_capget, &hdr, d) < 0) fatal("exec: capget: %s", strerror(errno));
  in.permitted = d[0].permitted | uint64_t{d[1].permitted} << 32;
  in.effective = d[0].effective | uint64_t{d[1].effective} << 32;
  in.inheritable = d[0].inheritable | uint64_t{d[1].inheritable} << 32;
  for (int cap = 0; cap < 64; cap++) {
    int b = prctl(PR_CAPBSET_READ, cap, 0, 0, 0);
    if (b < 0) break;  // past CAP_LAST_CAP
    if (b) in.bounding |= uint64_t{1} << cap;
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, cap, 0, 0) == 1)
      in.ambient |= uint64_t{1} << cap;
  }
  uid_t r, e, s;
  syscall(SYS_getresuid, &r, &e, &s);
  in.ruid = r, in.euid = e;
  int bits = prctl(PR_GET_SECUREBITS, 0, 0, 0, 0);
  in.noroot = bits > 0 && (bits & SECBIT_NOROOT);
  // The guest thread's own flag: elfuse's host threads always have
  // no_new_privs (base/self_confine.h).
  in.no_new_privs = no_new_privs;
  return in;
}

// The credentials of the new program (fs/exec.c begin_new_exec with the
// sets of exec_capabilities), applied to the calling host thread, which
// is the guest thread that goes on running it. capset(2) can only lower
// the permitted set: a root program whose permitted set was lowered
// before the execve keeps the lower one (Linux gives it bounding |
// inheritable again). Returns AT_SECURE.
bool apply_exec_credentials(bool no_new_privs) {
  const ExecCredsInput in = current_creds(no_new_privs);
  const ExecCredsResult want = exec_capabilities(in);
  const uint64_t permitted = want.permitted & in.permitted;
  const uint64_t effective = want.effective & permitted;
  if (permitted != in.permitted || effective != in.effective) {
    __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct d[2] = {};
    for (int i = 0; i < 2; i++) {
      d[i].permitted = static_cast<uint32_t>(permitted >> (32 * i));
      d[i].effective = static_cast<uint32_t>(effective >> (32 * i));
      d[i].inheritable = static_cast<uint32_t>(in.inheritable >> (32 * i));
    }
    // Only lowering: the kernel refuses nothing here. Should it, the new
    // program must not run with the old sets.
    if (syscall(SYS_capset, &hdr, d) < 0)
      fatal("exec: cannot drop capabilities: %s", strerror(errno));
  }
  // securebits &= ~SECURE_KEEP_CAPS (EPERM when SECBIT_KEEP_CAPS_LOCKED:
  // the bit then stays, where Linux clears it).
  prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
  // A secure exec: the parent may no longer signal it at its death.
  if (want.secure) prctl(PR_SET_PDEATHSIG, 0, 0, 0, 0);
  return want.secure;
}

// fs/file.c do_close_on_exec: every guest descriptor marked FD_CLOEXEC.
void close_on_exec(const FdRules& rules) {
  DIR* d = opendir("/proc/thread-self/fd");
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

// The first program's VM (start_first_vm). Two pieces of work, each done by
// whichever of the VM thread and the main thread claims it first: building
// the VM (and its vDSO data slot), then making a vCPU ahead of need. On a
// busy host the new thread may wait milliseconds for a CPU; the main
// thread then does the work itself instead of waiting for it.
struct FirstVm {
  uint8_t* reservation = nullptr;
  uint64_t size = 0, initial = 0;
  std::atomic<int> vm_state{0}, vcpu_state{0};  // kUnclaimed, kClaimed, kDone
  std::unique_ptr<Vm> vm;                       // valid once vm_state is kDone
  bool vdso = false;
  std::string why;     // !vm: what went wrong
  bool taken = false;  // the main thread's: the first commit_exec took it
};
constexpr int kUnclaimed = 0, kClaimed = 1, kDone = 2;
// Never freed: the thread may look at the states after the main thread is
// done with them (it then finds nothing to claim).
FirstVm* g_first = nullptr;

bool claim(std::atomic<int>& state) {
  int expected = kUnclaimed;
  return state.compare_exchange_strong(expected, kClaimed);
}
void finish(std::atomic<int>& state) {
  state.store(kDone);
  state.notify_all();
}
void wait_done(std::atomic<int>& state) {
  for (int v = state.load(); v != kDone; v = state.load()) state.wait(v);
}

void build_first_vm(FirstVm& f) {
  f.vm = create_vm(f.reservation, f.size, f.initial, &f.why);
  if (f.vm) f.vdso = vdso_attach(*f.vm).ok();
}

void* first_vm_main(void* arg) {
  FirstVm& f = *static_cast<FirstVm*>(arg);
  // glibc starts every thread with signals 32 and 33 unblocked (whatever
  // the creator's mask); this thread takes no signal at all, so that a
  // process-directed one waits for a guest thread (the raw call: glibc's
  // own refuses to block those two).
  uint64_t all = ~uint64_t{0};
  syscall(SYS_rt_sigprocmask, SIG_SETMASK, &all, nullptr, sizeof all);
  timing_mark("first VM thread: started");
  if (!claim(f.vm_state)) return nullptr;
  build_first_vm(f);
  timing_mark("first VM thread: VM created, vDSO data attached");
  // Once vm_state is kDone the Vm object is the main thread's; it waits for
  // a claimed vCPU before it uses the VM's vCPUs (prepare_vcpu takes the
  // VM's vCPU lock and touches nothing else of it).
  Vm* vm = f.vm.get();
  finish(f.vm_state);
  if (!vm || !claim(f.vcpu_state)) return nullptr;
  vm->prepare_vcpu();
  timing_mark("first VM thread: vCPU created");
  finish(f.vcpu_state);
  return nullptr;
}

std::string base_name(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// open_exec(name) for a file the program names (a #! interpreter, a
// PT_INTERP): relative to the cwd, inside the root under --sysroot,
// following symlinks; then do_open_execat's checks, a regular file with
// execute permission (EACCES). /proc/self/exe is the calling program (the
// kernel opens it before the new program replaces the caller), never
// elfuse. Returns elfuse's private fd.
ElfOr<UniqueFd> open_exec_file(const ExecRequest& request, const std::string& name) {
  // An empty name (PT_INTERP "\0\0") finds the cwd in do_open_execat,
  // a directory: EACCES.
  std::string open_name = name.empty() ? "." : name;
  if (procview::names_own_exe(request.caller_pid ? request.caller_pid : getpid(), name)) {
    if (request.caller_exe.empty()) return exec_error(EACCES, name);
    open_name = request.caller_exe;
  }
  int fd;
  if (request.sysroot) {
    Result<int> r = request.sysroot->open(AT_FDCWD, open_name, O_RDONLY | O_CLOEXEC, 0);
    fd = r ? *r : (errno = r.error(), -1);
  } else {
    fd = open(open_name.c_str(), O_RDONLY | O_CLOEXEC);
  }
  if (fd < 0) return exec_error(errno, name);
  UniqueFd file(move_to_private_fd(fd));
  struct stat st;
  if (fstat(file.get(), &st) < 0) return exec_error(errno, name);
  if (!S_ISREG(st.st_mode)) return exec_error(EACCES, name);
  std::string proc_path = "/proc/thread-self/fd/" + std::to_string(file.get());
  if (access(proc_path.c_str(), X_OK) < 0) return exec_error(EACCES, name);
  return file;
}

// mm->start_code ... env_end and saved_auxv as fs/binfmt_elf.c
// load_elf_binary and create_elf_tables leave them.
ExecLayout exec_layout_of(const LoadedProgram& prog, const MappedStack& stack, uint64_t start_brk) {
  ExecLayout l;
  // fs/binfmt_elf.c load_elf_binary.
  uint64_t start_code = ~0ull, end_code = 0, start_data = 0, end_data = 0;
  for (const ElfSegment& s : prog.exe.image.loads) {
    uint64_t k = s.vaddr;
    if ((s.prot & PROT_EXEC) && k < start_code) start_code = k;
    if (start_data < k) start_data = k;
    k = s.vaddr + s.filesz;
    if ((s.prot & PROT_EXEC) && end_code < k) end_code = k;
    if (end_data < k) end_data = k;
  }
  uint64_t bias = prog.exe.bias;
  l.start_code = start_code + bias;
  l.end_code = end_code + bias;
  l.start_data = start_data + bias;
  l.end_data = end_data + bias;
  l.start_brk = start_brk;
  const InitialStack& img = stack.image;
  l.start_stack = img.rsp;  // mm->start_stack = bprm->p, at argc
  l.arg_start = img.arg_start;
  l.arg_end = img.arg_end;
  l.env_start = img.env_start;
  l.env_end = img.env_end;
  uint64_t off = img.auxv_addr - img.start;
  uint64_t len = img.auxv_count * 16;
  if (img.auxv_addr >= img.start && off + len <= img.bytes.size())
    l.saved_auxv.assign(img.bytes.begin() + static_cast<ptrdiff_t>(off),
                        img.bytes.begin() + static_cast<ptrdiff_t>(off + len));
  return l;
}

// The path of an open host fd as the guest names it (inside the root under
// --sysroot), e.g. the interpreter's VMAs in /proc/self/maps.
std::string guest_file_path(const Process& proc, int fd) {
  char buf[PATH_MAX];
  std::string link = "/proc/thread-self/fd/" + std::to_string(fd);
  ssize_t n = ::readlink(link.c_str(), buf, sizeof buf);
  if (n <= 0 || n >= static_cast<ssize_t>(sizeof buf)) return "";
  std::string path(buf, static_cast<size_t>(n));
  if (proc.sysroot) {
    if (auto g = proc.sysroot->guest_path(path)) return *g;
  }
  return path;
}

// register_exec_hook's list: constant-initialized (zero) before any static
// initializer registers.
constexpr int kMaxExecHooks = 8;
ExecHook g_exec_hooks[kMaxExecHooks];
int g_exec_hook_count = 0;

void run_exec_hooks() {
  for (int i = 0; i < g_exec_hook_count; i++) g_exec_hooks[i]();
}

}  // namespace

void register_exec_hook(ExecHook hook) {
  if (g_exec_hook_count == kMaxExecHooks) fatal("exec: more than %d exec hooks", kMaxExecHooks);
  g_exec_hooks[g_exec_hook_count++] = hook;
}

void start_first_vm(uint8_t* reservation, uint64_t size) {
  auto* f = new FirstVm;
  f->reservation = reservation;
  f->size = size;
  f->initial = initial_phys(size);
  // The first descriptor above the private floor grows the fd table to
  // hold it. Growing a table that threads share waits for an RCU grace
  // period (fs/file.c expand_fdtable: measured 10 ms here), so it is done
  // while this thread is still alone: /dev/kvm is opened here.
  open_hypervisor_device();
  // Nobody waits for it to end (it may not have run at all by the time the
  // main thread has done both pieces).
  int err = start_helper_thread(first_vm_main, f);
  if (err) fatal("cannot create a host thread: %s", strerror(err));
  g_first = f;
}

ElfOr<PreparedExec> prepare_exec(ExecRequest request) {
  if (request.execfn.empty()) request.execfn = request.path;
  int open_flags = O_RDONLY | O_CLOEXEC;
  if (request.flags & AT_SYMLINK_NOFOLLOW) open_flags |= O_NOFOLLOW;
  int fd;
  if (request.path.empty() && (request.flags & AT_EMPTY_PATH)) {
    // The guest's own fd (fexecve): no name to resolve. Reopened for
    // reading through elfuse's /proc/self/fd, since it may be O_PATH.
    fd = open(("/proc/thread-self/fd/" + std::to_string(request.dirfd)).c_str(),
              O_RDONLY | O_CLOEXEC);
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
    std::string proc_path = "/proc/thread-self/fd/" + std::to_string(file.get());
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
    // open_exec(i_name): relative to the cwd, following symlinks. The
    // caller's exe link is the caller's program, not elfuse. The checks
    // are made at the top of the loop.
    std::string open_name = name;
    if (procview::names_own_exe(request.caller_pid ? request.caller_pid : getpid(), name)) {
      if (request.caller_exe.empty()) return exec_error(EACCES, name);
      open_name = request.caller_exe;
    }
    int ifd;
    if (request.sysroot) {
      Result<int> r = request.sysroot->open(AT_FDCWD, open_name, O_RDONLY | O_CLOEXEC, 0);
      ifd = r ? *r : (errno = r.error(), -1);
    } else {
      ifd = open(open_name.c_str(), O_RDONLY | O_CLOEXEC);
    }
    if (ifd < 0) return exec_error(errno, name);
    file = UniqueFd(move_to_private_fd(ifd));
  }
  ElfOr<FdReader> reader = FdReader::open(file.get());
  if (!reader.ok()) return reader.error();
  ElfOr<ElfImage> image = parse_elf(reader.value());
  if (!image.ok()) return image.error();
  PreparedExec prepared;
  if (image->interp) {
    ElfOr<UniqueFd> interp = open_interpreter(*image->interp, [&request](const std::string& path) {
      return open_exec_file(request, path);
    });
    if (!interp.ok()) return interp.error();
    prepared.interp_fd = std::move(interp).value();
  }
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
  // Another process's question about this one waits for the new image.
  std::lock_guard view(proc.view_mu);
  ExecRequest& req = prepared.request;
  // Drop the old image: vCPU, VM and every byte of guest memory but the
  // shim's, which install_shim rewrites. The worker uses all three.
  exitless_stop_worker(thread);
  // The new credentials, before the worker and any thread of the new
  // program are made (they inherit the calling thread's).
  const bool secure = apply_exec_credentials(thread.no_new_privs);
  FirstVm* const first = g_first && !g_first->taken ? g_first : nullptr;
  if (first) first->taken = true;
  thread.vcpu.reset();
  proc.vm.reset();
  proc.memory.reset();
  // mem files opened until now reach the old mm (kernel/proc_mem.h).
  proc.exec_count++;
  // The first program's reservation is untouched, and elfuse holds no
  // guest descriptor with FD_CLOEXEC then (its own were closed by the exec
  // that started it, and every one it opened since is above the floor);
  // the first-VM thread may meanwhile hold a descriptor below it for a
  // moment (KVM's new fds before they move up), which the scan must not
  // close.
  if (!first) {
    madvise(proc.reservation + SHIM_PHYS_END, proc.reservation_size - SHIM_PHYS_END, MADV_DONTNEED);
    close_on_exec(proc.fds);
  }
  reset_caught_signals(proc);
  run_exec_hooks();
  // kernel/sched/membarrier.c membarrier_exec_mmap: the new mm has no
  // registrations (the host process keeps its own; see sys_sched.cc).
  proc.membarrier_registered = 0;
  if (proc.vfork_done_fd >= 0) {
    close(proc.vfork_done_fd);
    proc.vfork_done_fd = -1;
  }

  const uint64_t initial = initial_phys(proc.reservation_size);
  // The guest's RLIMIT_STACK (mm/guest_limits.h): the stack's size, the
  // gap below it and the legacy layout (unlimited) follow it.
  rlimit stack_limit{proc.limits.cur(RLIMIT_STACK), proc.limits.max(RLIMIT_STACK)};
  int va_space = static_cast<int>(read_sysctl("/proc/sys/kernel/randomize_va_space", 2));
  const uint64_t mmap_min_addr = read_sysctl("/proc/sys/vm/mmap_min_addr", 65536);
  timing_mark("exec: old image dropped");
  // The host's vDSO data pages become guest memory of the new VM. Without
  // them (no usable host vDSO, or a backend that cannot share them) or with
  // --no-vdso the program gets no vDSO, as under the kernel's vdso=0
  // (arch_prctl(ARCH_MAP_VDSO_64) can still map one when they are there).
  if (first) {
    if (claim(first->vm_state)) {
      build_first_vm(*first);
      finish(first->vm_state);
      timing_mark("exec: first VM created here, vDSO data attached");
    } else {
      wait_done(first->vm_state);
      timing_mark("exec: first VM taken from its thread");
    }
    if (!first->vm) fatal("%s", first->why.c_str());
    proc.vm = std::move(first->vm);
    proc.vdso_attached = first->vdso;
  } else {
    proc.vm = create_vm_or_die(proc.reservation, proc.reservation_size, initial);
    timing_mark("exec: VM created (KVM_CREATE_VM, memslot)");
    proc.vdso_attached = vdso_attach(*proc.vm).ok();
    timing_mark("exec: vDSO data attached");
  }
  const bool vdso = proc.vdso_attached && proc.vdso_enabled;
  bool randomize = !(proc.personality & kAddrNoRandomize) && va_space != 0;
  LayoutInputs li{proc.vm->task_size(), randomize, stack_limit.rlim_cur, mmap_min_addr, random_u64};
  proc.memory = std::make_unique<MemoryManager>(
      proc.reservation, proc.reservation_size,
      PhysAllocator(initial, kTablePoolStart, kTablePoolEnd, kDataStart), &proc.shadow_sync,
      make_layout(li));
  proc.memory->set_limits(&proc.limits);
  TRY(proc.vm->install_shim(proc.mm().page_tables()));
  timing_mark("exec: memory manager, shim installed");

  LoadOptions lo;
  lo.randomize = randomize;
  lo.randomize_va_space = va_space;
  lo.random = random_u64;
  lo.exe_path = prepared.exe_path;
  lo.path_of_fd = [&proc](int fd) { return guest_file_path(proc, fd); };
  // PT_INTERP was opened and checked by prepare_exec (fs/binfmt_elf.c
  // opens it before begin_new_exec: inside the root under --sysroot, and
  // /proc/self/exe there is still the calling program).
  InterpOpener open_interp = [&prepared](const std::string& interp) -> ElfOr<UniqueFd> {
    if (!prepared.interp_fd.valid()) return exec_error(ENOENT, interp);
    return std::move(prepared.interp_fd);
  };
  ElfOr<LoadedProgram> prog = load_program(proc.mm(), prepared.fd.get(), lo, open_interp);
  if (!prog.ok()) {
    // Past the point of no return: an execve's caller dies of SIGSEGV
    // (fs/exec.c bprm_execve), the first program is elfuse's exit 126.
    if (first)
      log_error("%s: %s", req.path.c_str(), prog.error().message.c_str());
    else
      log_error("guest killed by SIGSEGV: execve %s: %s", req.path.c_str(),
                prog.error().message.c_str());
    return Errno{prog.error().linux_errno ? prog.error().linux_errno : ENOEXEC};
  }
  prepared.fd.reset();
  timing_mark("exec: ELF loaded");
  // fs/binfmt_elf.c load_elf_binary: ARCH_SETUP_ADDITIONAL_PAGES after the
  // program and its interpreter are mapped, before the tables on the stack.
  AuxvInputs auxv_in = auxv_inputs();
  auxv_in.secure = secure;
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
  timing_mark("exec: vDSO mapped, initial stack");

  if (first) {
    // A vCPU the thread claimed is ready (or failed) once it is kDone;
    // unclaimed, create_vcpu below makes one.
    if (!claim(first->vcpu_state)) wait_done(first->vcpu_state);
    timing_mark("exec: first VM's vCPU ready");
  }
  thread.vcpu = TRY(proc.vm->create_vcpu(proc.mm().cr3(), VcpuStart{prog->entry, stack.rsp()}));
  proc.exe_path = prepared.exe_path;
  proc.exec_layout = exec_layout_of(prog.value(), stack, proc.mm().layout().brk_start);
  const ExecLayout& el = proc.exec_layout;
  proc.mm().layout().data_size = el.end_data > el.start_data ? el.end_data - el.start_data : 0;
  // fs/exec.c __set_task_comm: the task name is the file's base name.
  prctl(PR_SET_NAME, base_name(prepared.comm_from_file ? prepared.exe_path : req.path).c_str(), 0,
        0, 0);
  exitless_on_exec(proc, thread);
  timing_mark("exec: vCPU created");
  return Ok();
}

}  // namespace elfuse
