// The SVM lane's KVM holder (scripts/svm-lane/init.sh starts it before the
// tests): one VM with one vCPU and no in-kernel local APIC, alive for the
// whole run.
//
// Why: KVM on the lane's kernel (6.1) counts vCPUs made without an in-kernel
// APIC in the static key kvm_has_noapic_vcpu, and elfuse's vCPUs are such.
// Without a holder the count goes 0 -> 1 -> 0 around every test, and each
// change patches kernel text through int3 breakpoints and IPIs
// (text_poke_bp). Under QEMU's TCG that patching now and then never ends:
// both vCPUs of the emulated machine were found looping in exc_int3 with no
// serial output for minutes (lane watchdog, 2026-11-27). With the holder the
// key stays on and the kernel's text is never patched during the run. Real
// machines patch text correctly; this is a fact of the emulator.
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <unistd.h>

int main(void) {
  int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
  if (kvm < 0) {
    perror("kvm_hold: /dev/kvm");
    return 1;
  }
  int vm = ioctl(kvm, KVM_CREATE_VM, 0);
  if (vm < 0) {
    perror("kvm_hold: KVM_CREATE_VM");
    return 1;
  }
  if (ioctl(vm, KVM_CREATE_VCPU, 0) < 0) {
    perror("kvm_hold: KVM_CREATE_VCPU");
    return 1;
  }
  puts("LANE kvm_hold: one vCPU without an in-kernel APIC held");
  fflush(stdout);
  for (;;) pause();
}
