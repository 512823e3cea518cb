// The cheapest exit this platform offers a guest user program: a user-mode
// MMIO store that exits to this process, which resumes the guest at once.
// A minimal guest (one page of code, no syscall, no elfuse handlers) loops
// on the store; prints nanoseconds per round trip.
#include <sys/mman.h>
#include <time.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "hv/hypervisor.h"
#include "mm/page_tables.h"
#include "shim/shim_abi.h"

using namespace elfuse;

namespace {

struct FlatTables final : TableMemory {
  uint8_t* base;
  uint64_t next = SHIM_PHYS_END;
  uint8_t* host(uint64_t pa) override { return base + pa; }
  std::optional<uint64_t> alloc_table() override {
    uint64_t pa = next;
    next += 4096;
    memset(base + pa, 0, 4096);
    return pa;
  }
};

double now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e9 + ts.tv_nsec;
}

}  // namespace

int main(int argc, char** argv) {
  long n = argc > 1 ? atol(argv[1]) : 20000;
  constexpr uint64_t kSize = 64ull << 20, kCode = 0x400000, kCodePa = 32ull << 20;
  auto* mem = static_cast<uint8_t*>(mmap(nullptr, kSize, PROT_READ | PROT_WRITE,
                                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0));
  std::unique_ptr<Vm> vm = create_vm_or_die(mem, kSize, kSize);
  FlatTables tables;
  tables.base = mem;
  PageTables pt(&tables);
  if (!vm->install_shim(pt).ok()) return 1;
  // 1: movabs %rax, SHIM_USER_MMIO; jmp 1b
  uint8_t code[12] = {0x48, 0xa3};
  uint64_t mmio = SHIM_USER_MMIO;
  memcpy(code + 2, &mmio, 8);
  code[10] = 0xeb;
  code[11] = static_cast<uint8_t>(-12);
  memcpy(mem + kCodePa, code, sizeof code);
  if (!pt.map(kCode, kCodePa, 4096, PROT_READ | PROT_EXEC, true).ok()) return 1;
  auto vcpu = vm->create_vcpu(pt.root(), {kCode, kCode + 4096});
  if (!vcpu.ok()) return 1;
  auto one = [&] {
    VcpuExit e = (*vcpu)->run();
    if (e.kind != ExitKind::kFault || e.fault.address != SHIM_USER_MMIO) {
      fprintf(stderr, "unexpected exit\n");
      exit(1);
    }
  };
  for (int i = 0; i < 100; i++) one();
  double t0 = now_ns();
  for (long i = 0; i < n; i++) one();
  double t1 = now_ns();
  printf("%.1f\n", (t1 - t0) / n);
  return 0;
}
