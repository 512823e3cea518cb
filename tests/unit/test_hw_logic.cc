// The hardware backend's decisions (src/hv/hw/hw_logic.h), which are the
// same for Intel VMX and AMD SVM: the SVM lane runs them on emulated SVM,
// these tests on any machine. Also the shim's layout the backend relies on.
#include <gtest/gtest.h>
#include <sys/mman.h>

#include <cstring>
#include <vector>

#include "hv/hw/hw_logic.h"
#include "hv/kvm_vm.h"
#include "mm/page_tables.h"
#include "shim/shim_abi.h"

extern "C" const char shim_super_start[], shim_super_end[], shim_hw_syscall[], shim_hw_sysret[],
    shim_hw_iret_flush[], shim_hw_iret[], shim_hw_iretq[];

namespace elfuse {
namespace {

GuestRegs after_syscall(uint64_t rip, uint64_t flags) {
  GuestRegs r{};
  r.rip = rip;
  r.rcx = rip;
  r.r11 = flags;
  r.rflags = hw::user_flags(flags);
  return r;
}

TEST(HwReturn, PlainSyscallReturnIsSysret) {
  EXPECT_EQ(hw::choose_return(after_syscall(0x401000, 0x246), false), hw::Return::kSysret);
}

TEST(HwReturn, FlushDueGoesThroughCr3Reload) {
  EXPECT_EQ(hw::choose_return(after_syscall(0x401000, 0x246), true), hw::Return::kIretFlush);
}

TEST(HwReturn, SignalHandlerOrSigreturnIsIret) {
  GuestRegs r = after_syscall(0x401000, 0x246);
  r.rip = 0x402000;  // a handler: RIP != RCX
  EXPECT_EQ(hw::choose_return(r, false), hw::Return::kIret);
  r = after_syscall(0x401000, 0x246);
  r.rflags = hw::user_flags(0x247);  // flags SYSRET would not give (R11 says 0x246)
  EXPECT_EQ(hw::choose_return(r, false), hw::Return::kIret);
}

TEST(HwReturn, ResumeFlagAndNonCanonicalNeverSysret) {
  GuestRegs r = after_syscall(0x401000, 0x10246);  // RF: SYSRET cannot set it
  EXPECT_EQ(hw::choose_return(r, false), hw::Return::kIret);
  r = after_syscall(0x800000000000, 0x246);  // non-canonical RCX: #GP at CPL 0 on Intel
  EXPECT_EQ(hw::choose_return(r, false), hw::Return::kIret);
}

TEST(HwFlags, UserFlagsDropPrivilegedBits) {
  // IOPL 3, VM, VIF, VIP, IF clear -> IF set, the rest gone.
  EXPECT_EQ(hw::user_flags(0x3000 | 0x20000 | 0x80000 | 0x100000 | 0x1), 0x203u);
  EXPECT_EQ(hw::user_flags(0x100 | 0x400 | 0x40000), 0x100u | 0x400 | 0x40000 | 0x202);
}

hw::ShimEntries entries() {
  return {0x1000, 0x1002, 0x1005, 0x100b, 0x100c};
}

TEST(HwStop, PlacesByRip) {
  const uint64_t base = 0x1000;
  EXPECT_EQ(hw::stop_place(0x400000 & 0xfff, base, entries()), hw::StopPlace::kUser);
  EXPECT_EQ(hw::stop_place(0x1000, base, entries()), hw::StopPlace::kSyscallEntry);
  EXPECT_EQ(hw::stop_place(0x1002, base, entries()), hw::StopPlace::kSysret);
  EXPECT_EQ(hw::stop_place(0x1005, base, entries()), hw::StopPlace::kIretBeforePop);
  EXPECT_EQ(hw::stop_place(0x1008, base, entries()), hw::StopPlace::kIretBeforePop);
  EXPECT_EQ(hw::stop_place(0x100b, base, entries()), hw::StopPlace::kIretBeforePop);
  EXPECT_EQ(hw::stop_place(0x100c, base, entries()), hw::StopPlace::kIretq);
  EXPECT_EQ(hw::stop_place(0x1100, base, entries()), hw::StopPlace::kOther);
}

TEST(HwStop, UserViews) {
  const uint64_t frame[6] = {0xaa, 0x401234, SHIM_USER_CS, 0x246, 0x7ffd0000, SHIM_USER_DS};
  GuestRegs r{};
  r.rcx = 0x401002;
  r.r11 = 0x246;
  r.rax = 0x55;
  GuestRegs v = r;
  ASSERT_TRUE(hw::user_view(hw::StopPlace::kSyscallEntry, frame, v));
  EXPECT_EQ(v.rip, 0x401000u);  // the `syscall` again
  EXPECT_EQ(v.rflags, 0x246u);
  v = r;
  ASSERT_TRUE(hw::user_view(hw::StopPlace::kSysret, frame, v));
  EXPECT_EQ(v.rip, 0x401002u);
  v = r;
  ASSERT_TRUE(hw::user_view(hw::StopPlace::kIretBeforePop, frame, v));
  EXPECT_EQ(v.rax, 0xaau);
  EXPECT_EQ(v.rip, 0x401234u);
  EXPECT_EQ(v.rsp, 0x7ffd0000u);
  v = r;
  ASSERT_TRUE(hw::user_view(hw::StopPlace::kIretq, frame, v));
  EXPECT_EQ(v.rax, 0x55u);  // already popped: the register is the user's
  EXPECT_EQ(v.rip, 0x401234u);
  v = r;
  EXPECT_FALSE(hw::user_view(hw::StopPlace::kOther, frame, v));
}

// Page tables over a buffer, as the MemoryManager builds them.
class Mem : public TableMemory {
 public:
  explicit Mem(size_t size) : buf_(size) {}
  uint8_t* host(uint64_t pa) override { return buf_.data() + pa; }
  std::optional<uint64_t> alloc_table() override {
    if (next_ + 4096 > buf_.size()) return std::nullopt;
    uint64_t pa = next_;
    next_ += 4096;
    memset(buf_.data() + pa, 0, 4096);
    return pa;
  }
  const uint8_t* data() const { return buf_.data(); }
  size_t size() const { return buf_.size(); }

 private:
  std::vector<uint8_t> buf_;
  uint64_t next_ = 4096;
};

TEST(HwStalePageFault, FollowsTheTables) {
  Mem mem(1 << 20);
  PageTables pt(&mem);
  const uint64_t va = 0x7f0000001000, pa = 0x80000;
  ASSERT_TRUE(pt.map(va, pa, 4096, PROT_READ, true).ok());
  constexpr uint64_t kP = 1, kW = 2, kU = 4, kRsvd = 8, kI = 16;
  // A write to a read-only page: a real fault.
  EXPECT_FALSE(hw::page_fault_is_stale(mem.data(), mem.size(), pt.root(), va, kP | kW | kU));
  // Widened to RW since: the cached R translation faulted; retry.
  ASSERT_TRUE(pt.map(va, pa, 4096, PROT_READ | PROT_WRITE, true).ok());
  EXPECT_TRUE(hw::page_fault_is_stale(mem.data(), mem.size(), pt.root(), va, kP | kW | kU));
  // No exec (NX): an instruction fetch is a real fault; made executable: stale.
  EXPECT_FALSE(hw::page_fault_is_stale(mem.data(), mem.size(), pt.root(), va, kP | kU | kI));
  ASSERT_TRUE(pt.map(va, pa, 4096, PROT_READ | PROT_EXEC, true).ok());
  EXPECT_TRUE(hw::page_fault_is_stale(mem.data(), mem.size(), pt.root(), va, kU | kI));
  // Unmapped, supervisor-only, reserved bits, the upper half: never stale.
  EXPECT_FALSE(hw::page_fault_is_stale(mem.data(), mem.size(), pt.root(), va + 4096, kU));
  ASSERT_TRUE(pt.map(va, pa, 4096, PROT_READ, false).ok());
  EXPECT_FALSE(hw::page_fault_is_stale(mem.data(), mem.size(), pt.root(), va, kP | kU));
  ASSERT_TRUE(pt.map(va, pa, 4096, PROT_READ, true).ok());
  EXPECT_FALSE(hw::page_fault_is_stale(mem.data(), mem.size(), pt.root(), va, kP | kU | kRsvd));
  EXPECT_FALSE(hw::page_fault_is_stale(mem.data(), mem.size(), pt.root(), 0xffff800000000000, kU));
  // A CR3 outside guest memory reads nothing.
  EXPECT_FALSE(hw::page_fault_is_stale(mem.data(), mem.size(), 1ull << 40, va, kU));
}

TEST(HwStalePageFault, TwoMegabytePages) {
  Mem mem(8 << 20);
  PageTables pt(&mem);
  const uint64_t va = 0x7f0000200000, pa = 0x200000;
  ASSERT_TRUE(pt.map(va, pa, 0x200000, PROT_READ | PROT_WRITE, true).ok());
  EXPECT_TRUE(hw::page_fault_is_stale(mem.data(), mem.size(), pt.root(), va + 0x1234, 7));
}

// The shim's hardware entries, in the order and sizes hw_logic assumes:
// `out %al, $imm8` (2 bytes) then SYSRET; the flush's two CR3 moves fall
// through into the pop, which is 1 byte before the iretq.
TEST(HwShim, EntryLayout) {
  EXPECT_EQ(shim_hw_sysret - shim_hw_syscall, 2);
  EXPECT_EQ(static_cast<uint8_t>(shim_hw_syscall[0]), 0xe6);  // out imm8, al
  EXPECT_EQ(static_cast<uint8_t>(shim_hw_syscall[1]), SHIM_PORT_SYSCALL);
  EXPECT_EQ(shim_hw_iret - shim_hw_iret_flush, 6);
  EXPECT_EQ(shim_hw_iretq - shim_hw_iret, 1);
  EXPECT_LE(shim_super_end - shim_super_start, 4096);
  // The IRETQ frame (6 words) lies in the vCPU's slot, above its TSS.
  EXPECT_GE(SHIM_HW_IRET_FRAME(0), SHIM_VCPU_TSS(0) + 0x68);
  EXPECT_LE(SHIM_HW_IRET_FRAME(0) + 48, SHIM_VCPU_KSTACK_TOP(0));
  EXPECT_EQ(shim_super_va_of(shim_super_start), SHIM_SUPER_BASE + SHIM_OFF_KCODE);
}

}  // namespace
}  // namespace elfuse
