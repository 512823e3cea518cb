// What a VM costs on this host's KVM, without elfuse around it: per step,
// the median over N rounds (microseconds, wall time) of
//   KVM_CREATE_VM, KVM_GET_SUPPORTED_CPUID, KVM_SET_USER_MEMORY_REGION
//   (one slot of SLOT_MIB over an anonymous reservation), KVM_CREATE_VCPU +
//   mmap of kvm_run, KVM_SET_CPUID2, and the teardown (closing the vCPU
//   and the VM, which destroys them),
// and a whole fork + _exit + wait of a process that holds such a VM (the
// child closes nothing: its exit tears the VM down, as a guest's does).
// Usage: bench_vm_costs [N [SLOT_MIB]]. The floor under elfuse's start-up
// and fork (docs/performance.md, "Where start-up and fork time goes").
#include <fcntl.h>
#include <linux/kvm.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "hv/kvm_abi.h"

namespace {

double now_us() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

int must(int r, const char* what) {
  if (r < 0) {
    perror(what);
    exit(1);
  }
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  int n = argc > 1 ? atoi(argv[1]) : 50;
  uint64_t slot = (argc > 2 ? strtoull(argv[2], nullptr, 10) : 256ull) << 20;
  int kvm = must(open("/dev/kvm", O_RDWR | O_CLOEXEC), "/dev/kvm");
  auto* mem = static_cast<uint8_t*>(mmap(nullptr, slot, PROT_READ | PROT_WRITE,
                                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0));
  constexpr int kEntries = 256;
  std::vector<uint8_t> cpuid_buf(8 + kEntries * sizeof(kvm_cpuid_entry2));
  auto* cpuid = reinterpret_cast<kvm_cpuid2*>(cpuid_buf.data());
  int run_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
  std::vector<double> t_vm, t_cpuid, t_slot, t_vcpu, t_setcpuid, t_close, t_fork;
  for (int i = 0; i < n; i++) {
    double t0 = now_us();
    int vm = must(ioctl(kvm, KVM_CREATE_VM, 0), "KVM_CREATE_VM");
    double t1 = now_us();
    cpuid->nent = kEntries;
    must(ioctl(kvm, elfuse::kvm_abi::kGetSupportedCpuid, cpuid), "KVM_GET_SUPPORTED_CPUID");
    double t2 = now_us();
    kvm_userspace_memory_region r{};
    r.memory_size = slot;
    r.userspace_addr = reinterpret_cast<uint64_t>(mem);
    must(ioctl(vm, KVM_SET_USER_MEMORY_REGION, &r), "KVM_SET_USER_MEMORY_REGION");
    double t3 = now_us();
    int vcpu = must(ioctl(vm, KVM_CREATE_VCPU, 0), "KVM_CREATE_VCPU");
    void* run = mmap(nullptr, run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
    double t4 = now_us();
    must(ioctl(vcpu, elfuse::kvm_abi::kSetCpuid2, cpuid), "KVM_SET_CPUID2");
    double t5 = now_us();
    // A process holding this VM forks; the child's exit tears down its copy
    // of the mm (the VM itself stays the parent's: KVM ties it to the mm).
    pid_t pid = fork();
    if (pid == 0) _exit(0);
    waitpid(pid, nullptr, 0);
    double t6 = now_us();
    munmap(run, run_size);
    close(vcpu);
    close(vm);
    double t7 = now_us();
    t_vm.push_back(t1 - t0);
    t_cpuid.push_back(t2 - t1);
    t_slot.push_back(t3 - t2);
    t_vcpu.push_back(t4 - t3);
    t_setcpuid.push_back(t5 - t4);
    t_fork.push_back(t6 - t5);
    t_close.push_back(t7 - t6);
  }
  printf("KVM_CREATE_VM                 %8.1f us\n", median(t_vm));
  printf("KVM_GET_SUPPORTED_CPUID       %8.1f us\n", median(t_cpuid));
  printf("memslot of %4llu MiB           %8.1f us\n", static_cast<unsigned long long>(slot >> 20),
         median(t_slot));
  printf("KVM_CREATE_VCPU + mmap        %8.1f us\n", median(t_vcpu));
  printf("KVM_SET_CPUID2                %8.1f us\n", median(t_setcpuid));
  printf("close vCPU + VM (teardown)    %8.1f us\n", median(t_close));
  printf("fork + _exit + wait (holder)  %8.1f us\n", median(t_fork));
  return 0;
}
