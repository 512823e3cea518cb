#include "kernel/fault.h"

#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "base/log.h"
#include "kernel/process.h"

namespace elfuse {
namespace {

enum Vector : uint8_t {
  kDivideError = 0,
  kDebug = 1,
  kBreakpoint = 3,
  kOverflow = 4,
  kBoundRange = 5,
  kInvalidOpcode = 6,
  kInvalidTss = 10,
  kSegmentNotPresent = 11,
  kStackFault = 12,
  kGeneralProtection = 13,
  kPageFault = 14,
  kX87 = 16,
  kAlignmentCheck = 17,
  kSimd = 19,
};

std::string prot_string(int prot, int flags) {
  std::string s;
  s += (prot & PROT_READ) ? 'r' : '-';
  s += (prot & PROT_WRITE) ? 'w' : '-';
  s += (prot & PROT_EXEC) ? 'x' : '-';
  s += (flags & MAP_SHARED) ? 's' : 'p';
  return s;
}

std::string describe_mapping(Process& proc, uint64_t addr) {
  std::optional<Vma> vma = proc.mm().find_vma(addr);
  if (!vma) return "no mapping";
  char buf[160];
  snprintf(buf, sizeof buf, "%llx-%llx %s %s", static_cast<unsigned long long>(vma->start),
           static_cast<unsigned long long>(vma->end), prot_string(vma->prot, vma->flags).c_str(),
           vma->name.empty() ? "(anonymous)" : vma->name.c_str());
  return buf;
}

}  // namespace

FaultSignal signal_for_fault(const GuestFault& f, bool mapped) {
  switch (f.vector) {
    case kDivideError:
      return {SIGFPE, FPE_INTDIV, f.rip};
    case kDebug:
    case kBreakpoint:
      return {SIGTRAP, SI_KERNEL, 0};
    case kInvalidOpcode:
      return {SIGILL, ILL_ILLOPN, f.rip};
    case kX87:
    case kSimd:
      return {SIGFPE, 0, f.rip};
    case kSegmentNotPresent:
    case kStackFault:
    case kAlignmentCheck:
      return {SIGBUS, BUS_ADRALN, 0};
    case kPageFault:
      return {SIGSEGV, mapped ? SEGV_ACCERR : SEGV_MAPERR, f.address};
    case kOverflow:
    case kBoundRange:
    case kInvalidTss:
    case kGeneralProtection:
    default:
      return {SIGSEGV, SI_KERNEL, 0};
  }
}

void die_by_signal(int signo) {
  // The raw call: glibc's sigaction refuses its internal signals 32 and 33.
  struct {
    void* handler;
    unsigned long flags;
    void* restorer;
    unsigned long mask;
  } dfl{};  // SIG_DFL, the kernel's struct sigaction
  syscall(SYS_rt_sigaction, signo, &dfl, nullptr, 8);
  unsigned long set = 1ul << (signo - 1);
  syscall(SYS_rt_sigprocmask, SIG_UNBLOCK, &set, nullptr, 8);
  syscall(SYS_tgkill, getpid(), gettid(), signo);
  _exit(128 + signo);  // not reached for fatal signals
}

void die_of_fault(Process& proc, const GuestFault& fault) {
  bool mapped = fault.vector == kPageFault && proc.mm().find_vma(fault.address).has_value();
  FaultSignal sig = signal_for_fault(fault, mapped);
  const char* abbrev = sigabbrev_np(sig.signo);
  std::string name = abbrev ? std::string("SIG") + abbrev : "signal " + std::to_string(sig.signo);
  if (fault.vector == kPageFault)
    log_error("guest killed by %s: address 0x%llx (%s), rip 0x%llx (%s)", name.c_str(),
              static_cast<unsigned long long>(fault.address),
              describe_mapping(proc, fault.address).c_str(),
              static_cast<unsigned long long>(fault.rip),
              describe_mapping(proc, fault.rip).c_str());
  else
    log_error("guest killed by %s: rip 0x%llx (%s)", name.c_str(),
              static_cast<unsigned long long>(fault.rip),
              describe_mapping(proc, fault.rip).c_str());
  die_by_signal(sig.signo);
}

}  // namespace elfuse
