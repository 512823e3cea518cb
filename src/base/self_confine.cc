// The self-confinement filter (base/self_confine.h): its tables, the
// classic-BPF program built from them, a small interpreter that runs it for
// the unit tests, and its installation.
#include "base/self_confine.h"

#include <fcntl.h>
#include <linux/audit.h>
#include <linux/kvm.h>
#include <linux/mount.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>

#include "base/log.h"
#include "hv/kvm_abi.h"

namespace elfuse {

// A named array, so its address is its own (string literals may be merged).
const char kMountProbePath[] = "";

namespace confine {
namespace {

// Numbers the libc headers of some hosts lack.
constexpr int kSysQuotactlFd = 443;
constexpr int kSysLandlockCreateRuleset = 444;
constexpr int kSysLandlockAddRule = 445;
constexpr int kSysLandlockRestrictSelf = 446;
constexpr int kSysMemfdSecret = 447;
constexpr int kSysSetMempolicyHomeNode = 450;
constexpr int kSysLsmSetSelfAttr = 460;
constexpr uint32_t kX32SyscallBit = 0x40000000;
constexpr uint32_t kCloneNewTime = 0x80;  // CLONE_NEWTIME: unshare and clone3 only
constexpr uint32_t kNamespaceFlags = CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC |
                                     CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET;

constexpr Action K = Action::kKill;

// No code path of elfuse makes these (the guest's calls of the same names
// are answered inside elfuse: refused, ENOSYS as a kernel built without
// them, or emulated; docs/syscalls.md), so each is SECCOMP_RET_KILL_PROCESS.
// Where elfuse does make a call of the family in a restricted form, the
// call is not here but has a rule with its argument checks (build_filter).
constexpr DeniedCall kDenied[] = {
    // Another process's registers and memory, or the kernel's: debugging,
    // tracing, kernel programs and counters. elfuse copies guest memory
    // that may fault (a file page past EOF) with its own fault-tolerant
    // routines (base/safe_copy.h), never through process_vm_readv/writev;
    // the guest's calls of those are ENOSYS inside elfuse.
    {SYS_ptrace, "ptrace", K},
    {SYS_process_vm_readv, "process_vm_readv", K},
    {SYS_process_vm_writev, "process_vm_writev", K},
    {SYS_bpf, "bpf", K},
    {SYS_perf_event_open, "perf_event_open", K},
    {SYS_userfaultfd, "userfaultfd", K},
    {SYS_io_uring_setup, "io_uring_setup", K},
    {SYS_io_uring_enter, "io_uring_enter", K},
    {SYS_io_uring_register, "io_uring_register", K},
    // Replacing or extending the kernel.
    {SYS_kexec_load, "kexec_load", K},
    {SYS_kexec_file_load, "kexec_file_load", K},
    {SYS_init_module, "init_module", K},
    {SYS_finit_module, "finit_module", K},
    {SYS_delete_module, "delete_module", K},
    // Keyrings (the user's and the session's keys).
    {SYS_add_key, "add_key", K},
    {SYS_request_key, "request_key", K},
    {SYS_keyctl, "keyctl", K},
    // The mount table (the mount API calls elfuse makes as probes have
    // rules of their own).
    {SYS_mount, "mount", K},
    {SYS_umount2, "umount2", K},
    {SYS_pivot_root, "pivot_root", K},
    {SYS_fsopen, "fsopen", K},
    {SYS_fsconfig, "fsconfig", K},
    // Host-wide state that only an administrator changes.
    {SYS_reboot, "reboot", K},
    {SYS_swapon, "swapon", K},
    {SYS_swapoff, "swapoff", K},
    {SYS_acct, "acct", K},
    {SYS_sethostname, "sethostname", K},
    {SYS_setdomainname, "setdomainname", K},
    {SYS_quotactl, "quotactl", K},
    {kSysQuotactlFd, "quotactl_fd", K},
    {SYS_lookup_dcookie, "lookup_dcookie", K},
    {SYS_fanotify_init, "fanotify_init", K},
    {SYS_fanotify_mark, "fanotify_mark", K},
    {SYS_iopl, "iopl", K},
    {SYS_ioperm, "ioperm", K},
    {SYS_modify_ldt, "modify_ldt", K},
    {SYS_uselib, "uselib", K},
    {kSysMemfdSecret, "memfd_secret", K},
    {kSysSetMempolicyHomeNode, "set_mempolicy_home_node", K},
    // Confining elfuse's own host threads further (Landlock would take
    // their file access, an LSM attribute their label): the guest's calls
    // are answered inside elfuse (sys_sandbox.cc, sys_newer.cc).
    {kSysLandlockCreateRuleset, "landlock_create_ruleset", K},
    {kSysLandlockAddRule, "landlock_add_rule", K},
    {kSysLandlockRestrictSelf, "landlock_restrict_self", K},
    {kSysLsmSetSelfAttr, "lsm_set_self_attr", K},
    // Another process's pages.
    {SYS_migrate_pages, "migrate_pages", K},
    {SYS_move_pages, "move_pages", K},
    // elfuse never runs a host program: a guest's execve loads the new
    // program into the VM (src/kernel/exec.cc).
    {SYS_execve, "execve", K},
    {SYS_execveat, "execveat", K},
    // Joining a namespace: the guest's setns stops before the join with
    // EPERM (src/syscalls/sys_ns.cc), so this is that answer.
    {SYS_setns, "setns", Action::kEperm},
    // clone3's flags are in memory, where a filter cannot look: ENOSYS
    // makes glibc's pthread_create fall back to clone(2), whose flags the
    // filter checks. elfuse itself never calls clone3.
    {SYS_clone3, "clone3", Action::kEnosys},
};

// Every KVM ioctl of src/hv (create.cc, kvm_vm.cc, hw/hw_vm.cc, pvm/pvm_vm.cc),
// KVM_RUN first (the filter compares them in this order).
constexpr uint32_t kKvmIoctls[] = {
    KVM_RUN,
    KVM_GET_API_VERSION,
    KVM_CHECK_EXTENSION,
    KVM_CREATE_VM,
    KVM_GET_VCPU_MMAP_SIZE,
    static_cast<uint32_t>(kvm_abi::kGetSupportedCpuid),
    KVM_SET_USER_MEMORY_REGION,
    KVM_CREATE_VCPU,
    KVM_SET_REGS,
    KVM_GET_SREGS,
    KVM_SET_SREGS,
    KVM_GET_XCRS,
    KVM_SET_XCRS,
    static_cast<uint32_t>(kvm_abi::kGetXsave),
    static_cast<uint32_t>(kvm_abi::kSetXsave),
    static_cast<uint32_t>(kvm_abi::kSetCpuid2),
    static_cast<uint32_t>(kvm_abi::kSetMsrs),
    KVM_GET_VCPU_EVENTS,
    KVM_SET_VCPU_EVENTS,
    KVM_GET_TSC_KHZ,
};

uint32_t ret_of(Action a) {
  switch (a) {
    case Action::kAllow:
      return SECCOMP_RET_ALLOW;
    case Action::kKill:
      return SECCOMP_RET_KILL_PROCESS;
    case Action::kEperm:
      return SECCOMP_RET_ERRNO | EPERM;
    case Action::kEnosys:
      return SECCOMP_RET_ERRNO | ENOSYS;
  }
  return SECCOMP_RET_KILL_PROCESS;
}

constexpr uint32_t kNrOff = offsetof(seccomp_data, nr);
constexpr uint32_t kArchOff = offsetof(seccomp_data, arch);
constexpr uint32_t arg_lo(int i) {
  return offsetof(seccomp_data, args) + 8 * i;
}
constexpr uint32_t arg_hi(int i) {
  return arg_lo(i) + 4;
}

// A rule's instructions jump to labels: the next instruction, or the two
// returns that end every rule block (allow, then deny).
enum class To : uint8_t { kNext, kDeny, kAllow };
struct Insn {
  uint16_t code;
  uint32_t k;
  To jt = To::kNext, jf = To::kNext;
};

Insn ld(uint32_t off) {
  return {BPF_LD | BPF_W | BPF_ABS, off};
}
Insn jeq(uint32_t k, To jt, To jf) {
  return {BPF_JMP | BPF_JEQ | BPF_K, k, jt, jf};
}
Insn jset(uint32_t k, To jt, To jf) {
  return {BPF_JMP | BPF_JSET | BPF_K, k, jt, jf};
}

// A rule: for syscall nr, the checks (all must pass to reach the end, which
// allows); a failed check jumps to deny.
struct Rule {
  int nr;
  Action deny;
  std::vector<Insn> insns;
};

// The argument's bits in mask are all clear.
void mask_clear(std::vector<Insn>& v, int arg, uint32_t mask) {
  v.push_back(ld(arg_lo(arg)));
  v.push_back(jset(mask, To::kDeny, To::kNext));
}
// The argument's low 32 bits are k (int arguments: dirfds, fds).
void eq32(std::vector<Insn>& v, int arg, uint32_t k) {
  v.push_back(ld(arg_lo(arg)));
  v.push_back(jeq(k, To::kNext, To::kDeny));
}
// The argument is k, all 64 bits (pointers).
void eq64(std::vector<Insn>& v, int arg, uint64_t k) {
  v.push_back(ld(arg_lo(arg)));
  v.push_back(jeq(static_cast<uint32_t>(k), To::kNext, To::kDeny));
  v.push_back(ld(arg_hi(arg)));
  v.push_back(jeq(static_cast<uint32_t>(k >> 32), To::kNext, To::kDeny));
}

std::vector<Rule> rules() {
  std::vector<Rule> out;
  const uint64_t probe = reinterpret_cast<uintptr_t>(kMountProbePath);
  const uint32_t at_fdcwd = static_cast<uint32_t>(AT_FDCWD);
  {
    // ioctl: requests of KVM's type only from the list; others pass (the
    // guest's ioctls are an allowlist of terminal, file and socket requests,
    // src/syscalls/sys_fd.cc). First, as KVM_RUN is elfuse's hottest call.
    Rule r{SYS_ioctl, Action::kEperm, {}};
    r.insns.push_back(ld(arg_lo(1)));
    r.insns.push_back({BPF_ALU | BPF_AND | BPF_K, 0xff00});
    r.insns.push_back(jeq(KVMIO << 8, To::kNext, To::kAllow));
    r.insns.push_back(ld(arg_lo(1)));
    for (uint32_t k : kKvmIoctls) r.insns.push_back(jeq(k, To::kAllow, To::kNext));
    r.insns.push_back({BPF_JMP | BPF_JA, 0, To::kDeny, To::kDeny});
    out.push_back(std::move(r));
  }
  {
    // clone: processes and threads, never new namespaces (the guest's are
    // EPERM, src/syscalls/sys_process.cc). CLONE_NEWTIME's bit is the exit
    // signal's here.
    Rule r{SYS_clone, Action::kEperm, {}};
    mask_clear(r.insns, 0, kNamespaceFlags);
    out.push_back(std::move(r));
  }
  {
    // unshare: CLONE_FS, CLONE_FILES, CLONE_SYSVSEM (sys_ns.cc, thread.cc).
    Rule r{SYS_unshare, Action::kEperm, {}};
    mask_clear(r.insns, 0, kNamespaceFlags | kCloneNewTime);
    out.push_back(std::move(r));
  }
  {
    // open_tree: without OPEN_TREE_CLONE an O_PATH fd (implemented); with
    // it only the probe, which cannot find its path.
    Rule r{SYS_open_tree, Action::kEperm, {}};
    r.insns.push_back(ld(arg_lo(2)));
    r.insns.push_back(jset(OPEN_TREE_CLONE, To::kNext, To::kAllow));
    eq32(r.insns, 0, at_fdcwd);
    eq64(r.insns, 1, probe);
    mask_clear(r.insns, 2, AT_EMPTY_PATH);
    out.push_back(std::move(r));
  }
  {
    // move_mount: only the probe of the flags, both paths unfindable.
    Rule r{SYS_move_mount, Action::kEperm, {}};
    eq32(r.insns, 0, at_fdcwd);
    eq64(r.insns, 1, probe);
    eq32(r.insns, 2, at_fdcwd);
    eq64(r.insns, 3, probe);
    mask_clear(r.insns, 4, MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH);
    out.push_back(std::move(r));
  }
  {
    // fsmount: only the probe with no fd (-1: EBADF after the flag checks).
    Rule r{SYS_fsmount, Action::kEperm, {}};
    eq32(r.insns, 0, 0xffffffffu);
    out.push_back(std::move(r));
  }
  {
    // fspick and mount_setattr: only the probe, its path unfindable.
    for (int nr : {SYS_fspick, SYS_mount_setattr}) {
      Rule r{nr, Action::kEperm, {}};
      eq32(r.insns, 0, at_fdcwd);
      eq64(r.insns, 1, probe);
      mask_clear(r.insns, 2, nr == SYS_fspick ? FSPICK_EMPTY_PATH : AT_EMPTY_PATH);
      out.push_back(std::move(r));
    }
  }
  return out;
}

sock_filter stmt(uint16_t code, uint32_t k) {
  return BPF_STMT(code, k);
}
sock_filter jump(uint16_t code, uint32_t k, uint8_t jt, uint8_t jf) {
  return BPF_JUMP(code, k, jt, jf);
}

}  // namespace

std::span<const DeniedCall> denied_calls() {
  return kDenied;
}

std::span<const uint32_t> kvm_ioctls() {
  return kKvmIoctls;
}

// The program: the architecture (anything but x86_64 kills, as does the
// x32 bit: elfuse makes neither kind of call, and either would name other
// syscalls by these numbers), then the rules with argument checks (each
// block: skip it unless it is the rule's call, the checks, allow, deny,
// load nr again), then the denied calls, then allow. The kernel caches the
// answer of every call whose path reads no argument (its seccomp action
// cache), so only the calls with rules run the program.
std::vector<sock_filter> build_filter() {
  std::vector<sock_filter> p;
  p.push_back(stmt(BPF_LD | BPF_W | BPF_ABS, kArchOff));
  p.push_back(jump(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0));
  p.push_back(stmt(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS));
  p.push_back(stmt(BPF_LD | BPF_W | BPF_ABS, kNrOff));
  p.push_back(jump(BPF_JMP | BPF_JGE | BPF_K, kX32SyscallBit, 0, 1));
  p.push_back(stmt(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS));
  for (const Rule& r : rules()) {
    // Block: [jeq nr] [insns...] [ret allow] [ret deny] [ld nr]: passing
    // every check falls through to allow.
    size_t n = r.insns.size();
    p.push_back(jump(BPF_JMP | BPF_JEQ | BPF_K, static_cast<uint32_t>(r.nr), 0,
                     static_cast<uint8_t>(n + 2)));
    for (size_t i = 0; i < n; i++) {
      const Insn& in = r.insns[i];
      auto off = [&](To t) -> uint8_t {
        size_t rel = t == To::kNext ? 0 : t == To::kAllow ? n - 1 - i : n - i;
        return static_cast<uint8_t>(rel);
      };
      if (BPF_CLASS(in.code) == BPF_JMP && BPF_OP(in.code) == BPF_JA) {
        p.push_back(stmt(in.code, off(in.jt)));
      } else if (BPF_CLASS(in.code) == BPF_JMP) {
        p.push_back(jump(in.code, in.k, off(in.jt), off(in.jf)));
      } else {
        p.push_back(stmt(in.code, in.k));
      }
    }
    p.push_back(stmt(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
    p.push_back(stmt(BPF_RET | BPF_K, ret_of(r.deny)));
    p.push_back(stmt(BPF_LD | BPF_W | BPF_ABS, kNrOff));
  }
  for (const DeniedCall& d : kDenied) {
    p.push_back(jump(BPF_JMP | BPF_JEQ | BPF_K, static_cast<uint32_t>(d.nr), 0, 1));
    p.push_back(stmt(BPF_RET | BPF_K, ret_of(d.action)));
  }
  p.push_back(stmt(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
  return p;
}

// The subset of classic BPF that seccomp accepts and build_filter emits.
uint32_t evaluate(std::span<const sock_filter> prog, int nr, const uint64_t (&args)[6],
                  uint32_t arch) {
  seccomp_data d{};
  d.nr = nr;
  d.arch = arch;
  for (int i = 0; i < 6; i++) d.args[i] = args[i];
  const auto* bytes = reinterpret_cast<const unsigned char*>(&d);
  uint32_t a = 0;
  for (size_t pc = 0; pc < prog.size(); pc++) {
    const sock_filter& f = prog[pc];
    switch (f.code) {
      case BPF_LD | BPF_W | BPF_ABS:
        if (f.k + 4 > sizeof d) return SECCOMP_RET_KILL_PROCESS;
        memcpy(&a, bytes + f.k, 4);
        break;
      case BPF_ALU | BPF_AND | BPF_K:
        a &= f.k;
        break;
      case BPF_JMP | BPF_JA:
        pc += f.k;
        break;
      case BPF_JMP | BPF_JEQ | BPF_K:
        pc += a == f.k ? f.jt : f.jf;
        break;
      case BPF_JMP | BPF_JGE | BPF_K:
        pc += a >= f.k ? f.jt : f.jf;
        break;
      case BPF_JMP | BPF_JSET | BPF_K:
        pc += (a & f.k) ? f.jt : f.jf;
        break;
      case BPF_RET | BPF_K:
        return f.k;
      default:
        return SECCOMP_RET_KILL_PROCESS;  // not emitted
    }
  }
  return SECCOMP_RET_KILL_PROCESS;  // fell off the end: the kernel rejects such a program
}

int install(std::span<const sock_filter> prog) {
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return errno;
  sock_fprog fprog{static_cast<unsigned short>(prog.size()), const_cast<sock_filter*>(prog.data())};
  long r = ::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, &fprog);
  if (r < 0) return errno;
  if (r > 0) return ESRCH;  // TSYNC: thread r could not take the filter
  return 0;
}

bool disabled_by_environment() {
  const char* v = getenv("ELFUSE_NO_CONFINE");
  return v && *v && strcmp(v, "0") != 0;
}

namespace {
bool g_confined = false;
}

void confine_self() {
  if (disabled_by_environment()) return;
  std::vector<sock_filter> prog = build_filter();
  if (int e = install(prog); e != 0)
    fatal("cannot confine elfuse's host threads (seccomp): %s (ELFUSE_NO_CONFINE=1 runs without)",
          strerror(e));
  g_confined = true;
}

bool confined() {
  return g_confined;
}

}  // namespace confine
}  // namespace elfuse
