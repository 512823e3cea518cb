// Opening /dev/kvm and choosing the backend. Every failure is one line that
// says what is wrong and what to do.
#include <fcntl.h>
#include <linux/kvm.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "base/log.h"
#include "base/private_fd.h"
#include "hv/pvm/pvm_vm.h"

namespace elfuse {
namespace {

bool module_loaded(const char* name) {
  struct stat st;
  std::string path = std::string("/sys/module/") + name;
  return stat(path.c_str(), &st) == 0;
}

// ELFUSE_KVM_DEVICE replaces /dev/kvm (tests use it to check the messages).
UniqueFd open_kvm_or_die() {
  const char* override = getenv("ELFUSE_KVM_DEVICE");
  const char* dev = override && *override ? override : "/dev/kvm";
  int fd = open(dev, O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    int e = errno;
    if (e == ENOENT)
      fatal(
          "%s does not exist: this host has no KVM; load the kvm_pvm module "
          "(modprobe kvm_pvm) or run elfuse on a machine with KVM",
          dev);
    if (e == EACCES || e == EPERM)
      fatal(
          "no permission to open %s: add your user to its group (ls -l %s) "
          "or ask an administrator for access",
          dev, dev);
    fatal("cannot open %s: %s", dev, strerror(e));
  }
  fd = move_to_private_fd(fd);
  if (fd < 0) fatal("cannot move the /dev/kvm descriptor: %s", strerror(errno));
  return UniqueFd(fd);
}

// /dev/kvm is opened once, with the credentials elfuse starts with, and
// every later VM (a forked child's, the new image's at execve) is created
// from a duplicate of that descriptor: the guest may have given those
// credentials up by then (setuid to a user who may not open /dev/kvm, which
// is usually root's or the kvm group's), and the kernel checks permission
// only at open. A forked child inherits the descriptor.
UniqueFd kvm_device_or_die() {
  static const int device = open_kvm_or_die().release();
  int fd = fcntl(device, F_DUPFD_CLOEXEC, private_fd_floor());
  if (fd < 0) fatal("cannot duplicate the /dev/kvm descriptor: %s", strerror(errno));
  return UniqueFd(fd);
}

}  // namespace

std::unique_ptr<Vm> create_vm_or_die(uint8_t* memory, uint64_t size, uint64_t initial) {
  UniqueFd kvm = kvm_device_or_die();
  int api = ioctl(kvm.get(), KVM_GET_API_VERSION, 0);
  if (api != KVM_API_VERSION)
    fatal("the KVM device is not KVM (KVM_GET_API_VERSION gave %d, elfuse needs %d)", api,
          KVM_API_VERSION);
  if (!module_loaded("kvm_pvm")) {
    const char* hw = module_loaded("kvm_intel") ? "kvm_intel (Intel VMX)"
                     : module_loaded("kvm_amd") ? "kvm_amd (AMD SVM)"
                                                : "not PVM";
    fatal(
        "this host's KVM is %s; this build of elfuse supports only the PVM backend "
        "(kvm_pvm module) so far",
        hw);
  }
  if (ioctl(kvm.get(), KVM_CHECK_EXTENSION, KVM_CAP_SYNC_REGS) <= 0)
    fatal("/dev/kvm lacks KVM_CAP_SYNC_REGS, which elfuse needs");
  // KVM_CREATE_VM registers an MMU notifier, which takes every lock of the mm
  // and gives up with EINTR when a signal is pending (mm_take_all_locks): a
  // forked child that a signal reaches while it builds its VM. The host
  // handler has recorded the signal by the time the ioctl returns; try again.
  int vmfd;
  do {
    vmfd = ioctl(kvm.get(), KVM_CREATE_VM, 0);
  } while (vmfd < 0 && errno == EINTR);
  if (vmfd < 0) fatal("KVM_CREATE_VM failed: %s", strerror(errno));
  vmfd = move_to_private_fd(vmfd);
  if (vmfd < 0) fatal("cannot move the VM descriptor: %s", strerror(errno));
  auto vm = std::make_unique<PvmVm>(std::move(kvm), UniqueFd(vmfd), memory, size);
  if (auto r = vm->register_memory(initial); !r.ok())
    fatal("cannot register guest memory with KVM: %s", strerror(r.error()));
  return vm;
}

}  // namespace elfuse
