#include <gtest/gtest.h>
#include <linux/filter.h>
#include <linux/seccomp.h>

#include <cerrno>

#include "kernel/seccomp_filter.h"

namespace elfuse {
namespace {

BpfInsn stmt(uint16_t code, uint32_t k) {
  return BpfInsn{code, 0, 0, k};
}
BpfInsn jump(uint16_t code, uint32_t k, uint8_t jt, uint8_t jf) {
  return BpfInsn{code, jt, jf, k};
}

constexpr uint32_t kNrOff = 0, kArchOff = 4, kIpOff = 8, kArg0Off = 16;

SeccompData data_for(int nr, uint64_t arg0 = 0) {
  SeccompData d{};
  d.nr = nr;
  d.arch = kAuditArchX86_64;
  d.instruction_pointer = 0x401000;
  d.args[0] = arg0;
  return d;
}

// nr == 39 ? ERRNO(1) : ALLOW
std::vector<BpfInsn> errno_for(uint32_t nr, uint32_t err) {
  return {stmt(BPF_LD | BPF_W | BPF_ABS, kNrOff), jump(BPF_JMP | BPF_JEQ | BPF_K, nr, 0, 1),
          stmt(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | err), stmt(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)};
}

TEST(SeccompCheck, AcceptsAPlainFilter) {
  auto p = errno_for(39, 1);
  EXPECT_EQ(seccomp_check_program(p), 0);
}

TEST(SeccompCheck, Lengths) {
  std::vector<BpfInsn> empty;
  EXPECT_EQ(seccomp_check_program(empty), -EINVAL);
  std::vector<BpfInsn> max(kBpfMaxInsns, stmt(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
  EXPECT_EQ(seccomp_check_program(max), 0);
  std::vector<BpfInsn> over(kBpfMaxInsns + 1, stmt(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
  EXPECT_EQ(seccomp_check_program(over), -EINVAL);
}

TEST(SeccompCheck, LastMustBeRet) {
  std::vector<BpfInsn> p = {stmt(BPF_LD | BPF_IMM, 1)};
  EXPECT_EQ(seccomp_check_program(p), -EINVAL);
  std::vector<BpfInsn> a = {stmt(BPF_LD | BPF_IMM, SECCOMP_RET_ALLOW), stmt(BPF_RET | BPF_A, 0)};
  EXPECT_EQ(seccomp_check_program(a), 0);
  std::vector<BpfInsn> x = {stmt(BPF_RET | BPF_X, 0)};  // not a code classic BPF knows
  EXPECT_EQ(seccomp_check_program(x), -EINVAL);
}

TEST(SeccompCheck, Loads) {
  for (uint32_t k : {0u, 4u, 8u, 60u}) {
    std::vector<BpfInsn> p = {stmt(BPF_LD | BPF_W | BPF_ABS, k), stmt(BPF_RET | BPF_A, 0)};
    EXPECT_EQ(seccomp_check_program(p), 0) << k;
  }
  for (uint32_t k : {1u, 2u, 62u, 64u, 0x1000u, 0xfffff000u, 0xfffff004u}) {
    std::vector<BpfInsn> p = {stmt(BPF_LD | BPF_W | BPF_ABS, k), stmt(BPF_RET | BPF_A, 0)};
    EXPECT_EQ(seccomp_check_program(p), -EINVAL) << k;
  }
  // Half-word, byte, indirect and MSH loads are the socket filter's.
  for (uint16_t code : {BPF_LD | BPF_H | BPF_ABS, BPF_LD | BPF_B | BPF_ABS,
                        BPF_LD | BPF_W | BPF_IND, BPF_LDX | BPF_B | BPF_MSH}) {
    std::vector<BpfInsn> p = {stmt(code, 0), stmt(BPF_RET | BPF_A, 0)};
    EXPECT_EQ(seccomp_check_program(p), -EINVAL) << code;
  }
}

TEST(SeccompCheck, LenBecomesTheDataSize) {
  std::vector<BpfInsn> p = {stmt(BPF_LD | BPF_W | BPF_LEN, 0), stmt(BPF_RET | BPF_A, 0)};
  ASSERT_EQ(seccomp_check_program(p), 0);
  EXPECT_EQ(seccomp_run_program(p, data_for(0)), 64u);
  std::vector<BpfInsn> q = {stmt(BPF_LDX | BPF_W | BPF_LEN, 0), stmt(BPF_MISC | BPF_TXA, 0),
                            stmt(BPF_RET | BPF_A, 0)};
  ASSERT_EQ(seccomp_check_program(q), 0);
  EXPECT_EQ(seccomp_run_program(q, data_for(0)), 64u);
}

TEST(SeccompCheck, Jumps) {
  std::vector<BpfInsn> past = {jump(BPF_JMP | BPF_JEQ | BPF_K, 0, 1, 0), stmt(BPF_RET | BPF_K, 0)};
  EXPECT_EQ(seccomp_check_program(past), -EINVAL);
  std::vector<BpfInsn> ja = {stmt(BPF_JMP | BPF_JA, 1), stmt(BPF_RET | BPF_K, 0)};
  EXPECT_EQ(seccomp_check_program(ja), -EINVAL);
  std::vector<BpfInsn> ja_ok = {stmt(BPF_JMP | BPF_JA, 1), stmt(BPF_RET | BPF_K, 0),
                                stmt(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)};
  ASSERT_EQ(seccomp_check_program(ja_ok), 0);
  EXPECT_EQ(seccomp_run_program(ja_ok, data_for(0)), SECCOMP_RET_ALLOW);
  std::vector<BpfInsn> ja_huge = {stmt(BPF_JMP | BPF_JA, 0xffffffffu), stmt(BPF_RET | BPF_K, 0)};
  EXPECT_EQ(seccomp_check_program(ja_huge), -EINVAL);
}

TEST(SeccompCheck, ArithmeticLimits) {
  std::vector<BpfInsn> div0 = {stmt(BPF_ALU | BPF_DIV | BPF_K, 0), stmt(BPF_RET | BPF_A, 0)};
  EXPECT_EQ(seccomp_check_program(div0), -EINVAL);
  std::vector<BpfInsn> mod0 = {stmt(BPF_ALU | BPF_MOD | BPF_K, 0), stmt(BPF_RET | BPF_A, 0)};
  EXPECT_EQ(seccomp_check_program(mod0), -EINVAL);
  std::vector<BpfInsn> sh = {stmt(BPF_ALU | BPF_LSH | BPF_K, 32), stmt(BPF_RET | BPF_A, 0)};
  EXPECT_EQ(seccomp_check_program(sh), -EINVAL);
  std::vector<BpfInsn> neg_x = {stmt(BPF_ALU | BPF_NEG | BPF_X, 0), stmt(BPF_RET | BPF_A, 0)};
  EXPECT_EQ(seccomp_check_program(neg_x), -EINVAL);
  std::vector<BpfInsn> unknown = {stmt(0x00ff, 0), stmt(BPF_RET | BPF_A, 0)};
  EXPECT_EQ(seccomp_check_program(unknown), -EINVAL);
}

TEST(SeccompCheck, ScratchMemory) {
  std::vector<BpfInsn> out = {stmt(BPF_ST, 16), stmt(BPF_RET | BPF_A, 0)};
  EXPECT_EQ(seccomp_check_program(out), -EINVAL);
  std::vector<BpfInsn> unset = {stmt(BPF_LD | BPF_MEM, 3), stmt(BPF_RET | BPF_A, 0)};
  EXPECT_EQ(seccomp_check_program(unset), -EINVAL);
  // Stored on one path only.
  std::vector<BpfInsn> one_path = {stmt(BPF_LD | BPF_W | BPF_ABS, kNrOff),
                                   jump(BPF_JMP | BPF_JEQ | BPF_K, 1, 0, 1), stmt(BPF_ST, 2),
                                   stmt(BPF_LD | BPF_MEM, 2), stmt(BPF_RET | BPF_A, 0)};
  EXPECT_EQ(seccomp_check_program(one_path), -EINVAL);
  std::vector<BpfInsn> ok = {stmt(BPF_LD | BPF_W | BPF_ABS, kNrOff),
                             stmt(BPF_ST, 15),
                             stmt(BPF_LD | BPF_IMM, 0),
                             stmt(BPF_LDX | BPF_MEM, 15),
                             stmt(BPF_MISC | BPF_TXA, 0),
                             stmt(BPF_RET | BPF_A, 0)};
  ASSERT_EQ(seccomp_check_program(ok), 0);
  EXPECT_EQ(seccomp_run_program(ok, data_for(77)), 77u);
}

TEST(SeccompRun, ReadsTheData) {
  auto p = errno_for(39, 1);
  ASSERT_EQ(seccomp_check_program(p), 0);
  EXPECT_EQ(seccomp_run_program(p, data_for(39)), SECCOMP_RET_ERRNO | 1);
  EXPECT_EQ(seccomp_run_program(p, data_for(40)), SECCOMP_RET_ALLOW);
  std::vector<BpfInsn> arch = {stmt(BPF_LD | BPF_W | BPF_ABS, kArchOff), stmt(BPF_RET | BPF_A, 0)};
  ASSERT_EQ(seccomp_check_program(arch), 0);
  EXPECT_EQ(seccomp_run_program(arch, data_for(0)), kAuditArchX86_64);
  std::vector<BpfInsn> ip = {stmt(BPF_LD | BPF_W | BPF_ABS, kIpOff), stmt(BPF_RET | BPF_A, 0)};
  ASSERT_EQ(seccomp_check_program(ip), 0);
  EXPECT_EQ(seccomp_run_program(ip, data_for(0)), 0x401000u);
  // args[0], high word
  std::vector<BpfInsn> hi = {stmt(BPF_LD | BPF_W | BPF_ABS, kArg0Off + 4),
                             stmt(BPF_RET | BPF_A, 0)};
  ASSERT_EQ(seccomp_check_program(hi), 0);
  EXPECT_EQ(seccomp_run_program(hi, data_for(0, 0x1234567800000009ull)), 0x12345678u);
}

TEST(SeccompRun, Alu) {
  auto run = [](std::vector<BpfInsn> p) {
    p.push_back(stmt(BPF_RET | BPF_A, 0));
    EXPECT_EQ(seccomp_check_program(p), 0);
    return seccomp_run_program(p, data_for(0));
  };
  EXPECT_EQ(run({stmt(BPF_LD | BPF_IMM, 7), stmt(BPF_ALU | BPF_ADD | BPF_K, 5)}), 12u);
  EXPECT_EQ(run({stmt(BPF_LD | BPF_IMM, 7), stmt(BPF_ALU | BPF_SUB | BPF_K, 8)}), 0xffffffffu);
  EXPECT_EQ(run({stmt(BPF_LD | BPF_IMM, 7), stmt(BPF_ALU | BPF_MUL | BPF_K, 6)}), 42u);
  EXPECT_EQ(run({stmt(BPF_LD | BPF_IMM, 43), stmt(BPF_ALU | BPF_DIV | BPF_K, 6)}), 7u);
  EXPECT_EQ(run({stmt(BPF_LD | BPF_IMM, 43), stmt(BPF_ALU | BPF_MOD | BPF_K, 6)}), 1u);
  EXPECT_EQ(run({stmt(BPF_LD | BPF_IMM, 0xf0), stmt(BPF_ALU | BPF_AND | BPF_K, 0x3c)}), 0x30u);
  EXPECT_EQ(run({stmt(BPF_LD | BPF_IMM, 0xf0), stmt(BPF_ALU | BPF_OR | BPF_K, 0x0f)}), 0xffu);
  EXPECT_EQ(run({stmt(BPF_LD | BPF_IMM, 0xff), stmt(BPF_ALU | BPF_XOR | BPF_K, 0x0f)}), 0xf0u);
  EXPECT_EQ(run({stmt(BPF_LD | BPF_IMM, 1), stmt(BPF_ALU | BPF_LSH | BPF_K, 31)}), 0x80000000u);
  EXPECT_EQ(run({stmt(BPF_LD | BPF_IMM, 0x80000000u), stmt(BPF_ALU | BPF_RSH | BPF_K, 31)}), 1u);
  EXPECT_EQ(run({stmt(BPF_LD | BPF_IMM, 1), stmt(BPF_ALU | BPF_NEG, 0)}), 0xffffffffu);
  // X operands; division by X == 0 ends the program with 0.
  EXPECT_EQ(run({stmt(BPF_LDX | BPF_IMM, 3), stmt(BPF_LD | BPF_IMM, 10),
                 stmt(BPF_ALU | BPF_SUB | BPF_X, 0)}),
            7u);
  EXPECT_EQ(run({stmt(BPF_LDX | BPF_IMM, 0), stmt(BPF_LD | BPF_IMM, 10),
                 stmt(BPF_ALU | BPF_DIV | BPF_X, 0), stmt(BPF_LD | BPF_IMM, 5)}),
            0u);
  EXPECT_EQ(run({stmt(BPF_LDX | BPF_IMM, 0), stmt(BPF_LD | BPF_IMM, 10),
                 stmt(BPF_ALU | BPF_MOD | BPF_X, 0), stmt(BPF_LD | BPF_IMM, 5)}),
            0u);
}

TEST(SeccompRun, ConditionalJumps) {
  auto pick = [](uint16_t op, uint32_t a, uint32_t k) {
    std::vector<BpfInsn> p = {stmt(BPF_LD | BPF_IMM, a), jump(BPF_JMP | op | BPF_K, k, 0, 1),
                              stmt(BPF_RET | BPF_K, 1), stmt(BPF_RET | BPF_K, 2)};
    EXPECT_EQ(seccomp_check_program(p), 0);
    return seccomp_run_program(p, data_for(0));
  };
  EXPECT_EQ(pick(BPF_JEQ, 5, 5), 1u);
  EXPECT_EQ(pick(BPF_JEQ, 5, 6), 2u);
  EXPECT_EQ(pick(BPF_JGT, 0xffffffffu, 1), 1u);  // unsigned
  EXPECT_EQ(pick(BPF_JGT, 1, 1), 2u);
  EXPECT_EQ(pick(BPF_JGE, 1, 1), 1u);
  EXPECT_EQ(pick(BPF_JSET, 6, 2), 1u);
  EXPECT_EQ(pick(BPF_JSET, 6, 1), 2u);
}

TEST(SeccompConvertedLength, AsTheKernelTranslates) {
  EXPECT_EQ(seccomp_converted_len({stmt(BPF_RET | BPF_K, 0)}), 5u);
  EXPECT_EQ(seccomp_converted_len({stmt(BPF_RET | BPF_A, 0)}), 4u);
  EXPECT_EQ(seccomp_converted_len({stmt(BPF_ALU | BPF_DIV | BPF_X, 0), stmt(BPF_RET | BPF_A, 0)}),
            3u + 5 + 1);
  EXPECT_EQ(seccomp_converted_len({stmt(BPF_ALU | BPF_DIV | BPF_K, 3), stmt(BPF_RET | BPF_A, 0)}),
            3u + 1 + 1);
  auto with_jump = [](BpfInsn j) {
    return seccomp_converted_len({j, stmt(BPF_RET | BPF_A, 0), stmt(BPF_RET | BPF_A, 0)}) - 5;
  };
  EXPECT_EQ(with_jump(jump(BPF_JMP | BPF_JEQ | BPF_K, 1, 1, 0)), 1u);   // jf next
  EXPECT_EQ(with_jump(jump(BPF_JMP | BPF_JEQ | BPF_K, 1, 0, 1)), 1u);   // JNE
  EXPECT_EQ(with_jump(jump(BPF_JMP | BPF_JGT | BPF_K, 1, 0, 1)), 1u);   // JLE
  EXPECT_EQ(with_jump(jump(BPF_JMP | BPF_JGE | BPF_X, 1, 0, 1)), 1u);   // JLT
  EXPECT_EQ(with_jump(jump(BPF_JMP | BPF_JSET | BPF_K, 1, 0, 1)), 2u);  // Jxx and JA
  EXPECT_EQ(with_jump(jump(BPF_JMP | BPF_JEQ | BPF_K, 1, 1, 1)), 2u);
  EXPECT_EQ(with_jump(jump(BPF_JMP | BPF_JEQ | BPF_K, 0x80000000u, 1, 0)), 2u);  // negative imm
  EXPECT_EQ(with_jump(jump(BPF_JMP | BPF_JEQ | BPF_X, 0x80000000u, 1, 0)), 1u);
  EXPECT_EQ(with_jump(jump(BPF_JMP | BPF_JSET | BPF_K, 0xffffffffu, 1, 1)), 3u);
}

std::shared_ptr<const SeccompFilter> push(std::shared_ptr<const SeccompFilter> prev, uint32_t ret) {
  auto f = std::make_shared<SeccompFilter>();
  f->prog = {stmt(BPF_RET | BPF_K, ret)};
  f->converted_len = seccomp_converted_len(f->prog);
  f->prev = std::move(prev);
  return f;
}

TEST(SeccompStack, MostRestrictiveWins) {
  auto allow = push(nullptr, SECCOMP_RET_ALLOW);
  EXPECT_EQ(seccomp_run_filters(allow.get(), data_for(0)), SECCOMP_RET_ALLOW);
  auto errno1 = push(allow, SECCOMP_RET_ERRNO | 1);
  auto log = push(errno1, SECCOMP_RET_LOG);
  EXPECT_EQ(seccomp_run_filters(log.get(), data_for(0)), SECCOMP_RET_ERRNO | 1);
  auto trap = push(log, SECCOMP_RET_TRAP | 9);
  EXPECT_EQ(seccomp_run_filters(trap.get(), data_for(0)), SECCOMP_RET_TRAP | 9);
  auto kill_thread = push(trap, SECCOMP_RET_KILL_THREAD);
  EXPECT_EQ(seccomp_run_filters(kill_thread.get(), data_for(0)), SECCOMP_RET_KILL_THREAD);
  auto kill_process = push(kill_thread, SECCOMP_RET_KILL_PROCESS);
  EXPECT_EQ(seccomp_run_filters(kill_process.get(), data_for(0)), SECCOMP_RET_KILL_PROCESS);
  // Among equal actions the newest filter's data.
  auto errno2 = push(errno1, SECCOMP_RET_ERRNO | 2);
  EXPECT_EQ(seccomp_run_filters(errno2.get(), data_for(0)), SECCOMP_RET_ERRNO | 2);
  auto notif = push(push(nullptr, SECCOMP_RET_TRACE), SECCOMP_RET_USER_NOTIF);
  EXPECT_EQ(seccomp_run_filters(notif.get(), data_for(0)), SECCOMP_RET_USER_NOTIF);
  EXPECT_EQ(seccomp_filter_count(kill_process.get()), 6u);
  EXPECT_EQ(seccomp_path_insns(kill_process.get()), 6u * (3 + 2 + 4));
  EXPECT_TRUE(seccomp_is_ancestor(errno1.get(), kill_process.get()));
  EXPECT_FALSE(seccomp_is_ancestor(errno2.get(), kill_process.get()));
  EXPECT_TRUE(seccomp_is_ancestor(nullptr, allow.get()));
}

}  // namespace
}  // namespace elfuse
