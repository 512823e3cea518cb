#include "kernel/seccomp_filter.h"

#include <linux/filter.h>

#include <cerrno>
#include <cstring>

namespace elfuse {
namespace {

constexpr uint16_t kJeqK = BPF_JMP | BPF_JEQ | BPF_K, kJeqX = BPF_JMP | BPF_JEQ | BPF_X;
constexpr uint16_t kJgtK = BPF_JMP | BPF_JGT | BPF_K, kJgtX = BPF_JMP | BPF_JGT | BPF_X;
constexpr uint16_t kJgeK = BPF_JMP | BPF_JGE | BPF_K, kJgeX = BPF_JMP | BPF_JGE | BPF_X;
constexpr uint16_t kJsetK = BPF_JMP | BPF_JSET | BPF_K, kJsetX = BPF_JMP | BPF_JSET | BPF_X;

bool is_cond_jump(uint16_t code) {
  switch (code) {
    case kJeqK:
    case kJeqX:
    case kJgtK:
    case kJgtX:
    case kJgeK:
    case kJgeX:
    case kJsetK:
    case kJsetX:
      return true;
  }
  return false;
}

bool is_alu(uint16_t code) {
  if (BPF_CLASS(code) != BPF_ALU) return false;
  if (code == (BPF_ALU | BPF_NEG)) return true;
  if ((code & ~uint16_t{0xf8}) != BPF_ALU) return false;  // only OP and SRC bits
  switch (BPF_OP(code)) {
    case BPF_ADD:
    case BPF_SUB:
    case BPF_MUL:
    case BPF_DIV:
    case BPF_MOD:
    case BPF_AND:
    case BPF_OR:
    case BPF_XOR:
    case BPF_LSH:
    case BPF_RSH:
      return true;
  }
  return false;
}

// The codes classic BPF knows at all (filter.c chk_code_allowed, the
// codes[] table): the socket-filter loads included, which seccomp refuses
// afterwards.
bool classic_code_allowed(uint16_t code) {
  if (is_alu(code) || is_cond_jump(code)) return true;
  switch (code) {
    case BPF_LD | BPF_W | BPF_ABS:
    case BPF_LD | BPF_H | BPF_ABS:
    case BPF_LD | BPF_B | BPF_ABS:
    case BPF_LD | BPF_W | BPF_IND:
    case BPF_LD | BPF_H | BPF_IND:
    case BPF_LD | BPF_B | BPF_IND:
    case BPF_LD | BPF_W | BPF_LEN:
    case BPF_LD | BPF_IMM:
    case BPF_LD | BPF_MEM:
    case BPF_LDX | BPF_W | BPF_LEN:
    case BPF_LDX | BPF_B | BPF_MSH:
    case BPF_LDX | BPF_IMM:
    case BPF_LDX | BPF_MEM:
    case BPF_ST:
    case BPF_STX:
    case BPF_MISC | BPF_TAX:
    case BPF_MISC | BPF_TXA:
    case BPF_RET | BPF_K:
    case BPF_RET | BPF_A:
    case BPF_JMP | BPF_JA:
      return true;
  }
  return false;
}

// filter.c check_load_and_stores: a scratch cell is read only after every
// path to the read stored it.
bool loads_follow_stores(const std::vector<BpfInsn>& f) {
  std::vector<uint16_t> masks(f.size(), 0xffff);
  uint16_t memvalid = 0;
  for (size_t pc = 0; pc < f.size(); pc++) {
    memvalid &= masks[pc];
    const BpfInsn& in = f[pc];
    switch (in.code) {
      case BPF_ST:
      case BPF_STX:
        memvalid |= uint16_t(1u << in.k);
        break;
      case BPF_LD | BPF_MEM:
      case BPF_LDX | BPF_MEM:
        if (!(memvalid & (1u << in.k))) return false;
        break;
      case BPF_JMP | BPF_JA:
        masks[pc + 1 + in.k] &= memvalid;
        memvalid = 0xffff;
        break;
      default:
        if (is_cond_jump(in.code)) {
          masks[pc + 1 + in.jt] &= memvalid;
          masks[pc + 1 + in.jf] &= memvalid;
          memvalid = 0xffff;
        }
    }
  }
  return true;
}

// filter.c bpf_check_classic.
int check_classic(const std::vector<BpfInsn>& f) {
  const size_t flen = f.size();
  for (size_t pc = 0; pc < flen; pc++) {
    const BpfInsn& in = f[pc];
    if (!classic_code_allowed(in.code)) return -EINVAL;
    switch (in.code) {
      case BPF_ALU | BPF_DIV | BPF_K:
      case BPF_ALU | BPF_MOD | BPF_K:
        if (in.k == 0) return -EINVAL;
        break;
      case BPF_ALU | BPF_LSH | BPF_K:
      case BPF_ALU | BPF_RSH | BPF_K:
        if (in.k >= 32) return -EINVAL;
        break;
      case BPF_LD | BPF_MEM:
      case BPF_LDX | BPF_MEM:
      case BPF_ST:
      case BPF_STX:
        if (in.k >= BPF_MEMWORDS) return -EINVAL;
        break;
      case BPF_JMP | BPF_JA:
        if (in.k >= flen - pc - 1) return -EINVAL;
        break;
      default:
        if (is_cond_jump(in.code) && (pc + in.jt + 1 >= flen || pc + in.jf + 1 >= flen))
          return -EINVAL;
        // The ancillary loads (k >= SKF_AD_OFF) are the socket's; seccomp
        // refuses every ABS load outside struct seccomp_data below.
    }
  }
  uint16_t last = f[flen - 1].code;
  if (last != (BPF_RET | BPF_K) && last != (BPF_RET | BPF_A)) return -EINVAL;
  return loads_follow_stores(f) ? 0 : -EINVAL;
}

// seccomp.c seccomp_check_filter: the instructions seccomp allows.
int check_seccomp(std::vector<BpfInsn>& f) {
  for (BpfInsn& in : f) {
    switch (in.code) {
      case BPF_LD | BPF_W | BPF_ABS:
        if (in.k >= sizeof(SeccompData) || (in.k & 3)) return -EINVAL;
        continue;
      case BPF_LD | BPF_W | BPF_LEN:
        in.code = BPF_LD | BPF_IMM;
        in.k = sizeof(SeccompData);
        continue;
      case BPF_LDX | BPF_W | BPF_LEN:
        in.code = BPF_LDX | BPF_IMM;
        in.k = sizeof(SeccompData);
        continue;
      case BPF_RET | BPF_K:
      case BPF_RET | BPF_A:
      case BPF_LD | BPF_IMM:
      case BPF_LDX | BPF_IMM:
      case BPF_MISC | BPF_TAX:
      case BPF_MISC | BPF_TXA:
      case BPF_LD | BPF_MEM:
      case BPF_LDX | BPF_MEM:
      case BPF_ST:
      case BPF_STX:
      case BPF_JMP | BPF_JA:
        continue;
      default:
        if (is_alu(in.code) || is_cond_jump(in.code)) continue;
        return -EINVAL;
    }
  }
  return 0;
}

int32_t action_only(uint32_t ret) {
  return static_cast<int32_t>(ret & 0xffff0000u);  // ACTION_ONLY
}

}  // namespace

int seccomp_check_program(std::vector<BpfInsn>& prog) {
  if (prog.empty() || prog.size() > kBpfMaxInsns) return -EINVAL;
  if (int r = check_classic(prog)) return r;
  return check_seccomp(prog);
}

unsigned seccomp_converted_len(const std::vector<BpfInsn>& prog) {
  unsigned n = 3;  // A = 0, X = 0, the context register
  for (const BpfInsn& in : prog) {
    if (in.code == (BPF_RET | BPF_K)) {
      n += 2;
    } else if (in.code == (BPF_ALU | BPF_DIV | BPF_X) || in.code == (BPF_ALU | BPF_MOD | BPF_X)) {
      n += 5;
    } else if (is_cond_jump(in.code)) {
      if (BPF_SRC(in.code) == BPF_K && static_cast<int32_t>(in.k) < 0) n += 1;
      bool one = in.jf == 0 || (in.jt == 0 && BPF_OP(in.code) != BPF_JSET);
      n += one ? 1 : 2;
    } else {
      n += 1;
    }
  }
  return n;
}

uint32_t seccomp_run_program(const std::vector<BpfInsn>& prog, const SeccompData& data) {
  uint32_t a = 0, x = 0;
  uint32_t mem[BPF_MEMWORDS] = {};
  const size_t n = prog.size();
  for (size_t pc = 0; pc < n; pc++) {
    const BpfInsn& in = prog[pc];
    uint32_t src = BPF_SRC(in.code) == BPF_X ? x : in.k;
    switch (BPF_CLASS(in.code)) {
      case BPF_LD:
        switch (BPF_MODE(in.code)) {
          case BPF_ABS:
            memcpy(&a, reinterpret_cast<const char*>(&data) + in.k, 4);
            break;
          case BPF_IMM:
            a = in.k;
            break;
          case BPF_MEM:
            a = mem[in.k];
            break;
        }
        break;
      case BPF_LDX:
        x = BPF_MODE(in.code) == BPF_MEM ? mem[in.k] : in.k;
        break;
      case BPF_ST:
        mem[in.k] = a;
        break;
      case BPF_STX:
        mem[in.k] = x;
        break;
      case BPF_ALU:
        switch (BPF_OP(in.code)) {
          case BPF_ADD:
            a += src;
            break;
          case BPF_SUB:
            a -= src;
            break;
          case BPF_MUL:
            a *= src;
            break;
          case BPF_DIV:
            if (src == 0) return 0;  // classic BPF: the program returns 0
            a /= src;
            break;
          case BPF_MOD:
            if (src == 0) return 0;
            a %= src;
            break;
          case BPF_AND:
            a &= src;
            break;
          case BPF_OR:
            a |= src;
            break;
          case BPF_XOR:
            a ^= src;
            break;
          case BPF_LSH:
            a <<= (src & 31);
            break;
          case BPF_RSH:
            a >>= (src & 31);
            break;
          case BPF_NEG:
            a = 0u - a;
            break;
        }
        break;
      case BPF_JMP: {
        if (BPF_OP(in.code) == BPF_JA) {
          pc += in.k;
          break;
        }
        bool taken = false;
        switch (BPF_OP(in.code)) {
          case BPF_JEQ:
            taken = a == src;
            break;
          case BPF_JGT:
            taken = a > src;
            break;
          case BPF_JGE:
            taken = a >= src;
            break;
          case BPF_JSET:
            taken = (a & src) != 0;
            break;
        }
        pc += taken ? in.jt : in.jf;
        break;
      }
      case BPF_RET:
        return BPF_RVAL(in.code) == BPF_A ? a : in.k;
      case BPF_MISC:
        if (BPF_MISCOP(in.code) == BPF_TAX)
          x = a;
        else
          a = x;
        break;
    }
  }
  return 0;  // not reached: a checked program ends in RET
}

uint32_t seccomp_run_filters(const SeccompFilter* f, const SeccompData& data) {
  uint32_t ret = 0x7fff0000u;  // SECCOMP_RET_ALLOW
  for (; f; f = f->prev.get()) {
    uint32_t cur = seccomp_run_program(f->prog, data);
    if (action_only(cur) < action_only(ret)) ret = cur;
  }
  return ret;
}

unsigned seccomp_filter_count(const SeccompFilter* f) {
  unsigned n = 0;
  for (; f; f = f->prev.get()) n++;
  return n;
}

unsigned seccomp_path_insns(const SeccompFilter* f) {
  unsigned n = 0;
  for (; f; f = f->prev.get()) n += f->converted_len + 4;
  return n;
}

bool seccomp_is_ancestor(const SeccompFilter* ancestor, const SeccompFilter* f) {
  if (!ancestor) return true;  // NULL is the ancestor of all
  for (; f; f = f->prev.get())
    if (f == ancestor) return true;
  return false;
}

}  // namespace elfuse
