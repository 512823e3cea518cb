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
#include <string>

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
// -1 with *why set on failure.
int open_kvm(std::string* why) {
  const char* override = getenv("ELFUSE_KVM_DEVICE");
  const char* dev = override && *override ? override : "/dev/kvm";
  int fd = open(dev, O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    int e = errno;
    if (e == ENOENT)
      *why = std::string(dev) +
             " does not exist: this host has no KVM; load the kvm_pvm module "
             "(modprobe kvm_pvm) or run elfuse on a machine with KVM";
    else if (e == EACCES || e == EPERM)
      *why = std::string("no permission to open ") + dev + ": add your user to its group (ls -l " +
             dev + ") or ask an administrator for access";
    else
      *why = std::string("cannot open ") + dev + ": " + strerror(e);
    return -1;
  }
  fd = move_to_private_fd(fd);
  if (fd < 0) *why = std::string("cannot move the /dev/kvm descriptor: ") + strerror(errno);
  return fd;
}

// /dev/kvm is opened once, with the credentials elfuse starts with, and
// every later VM (a forked child's, the new image's at execve) is created
// from a duplicate of that descriptor: the guest may have given those
// credentials up by then (setuid to a user who may not open /dev/kvm, which
// is usually root's or the kvm group's), and the kernel checks permission
// only at open. A forked child inherits the descriptor.
std::string g_open_error;
int kvm_device_fd() {
  static const int device = open_kvm(&g_open_error);
  return device;
}

UniqueFd kvm_device(std::string* why) {
  const int device = kvm_device_fd();
  if (device < 0) {
    *why = g_open_error;
    return UniqueFd();
  }
  int fd = fcntl(device, F_DUPFD_CLOEXEC, private_fd_floor());
  if (fd < 0) *why = std::string("cannot duplicate the /dev/kvm descriptor: ") + strerror(errno);
  return UniqueFd(fd);
}

std::string errno_text(const char* what) {
  return std::string(what) + ": " + strerror(errno);
}

}  // namespace

std::unique_ptr<Vm> create_vm(uint8_t* memory, uint64_t size, uint64_t initial, std::string* why) {
  UniqueFd kvm = kvm_device(why);
  if (!kvm.valid()) return nullptr;
  int api = ioctl(kvm.get(), KVM_GET_API_VERSION, 0);
  if (api != KVM_API_VERSION) {
    *why = "the KVM device is not KVM (KVM_GET_API_VERSION gave " + std::to_string(api) +
           ", elfuse needs " + std::to_string(KVM_API_VERSION) + ")";
    return nullptr;
  }
  if (!module_loaded("kvm_pvm")) {
    const char* hw = module_loaded("kvm_intel") ? "kvm_intel (Intel VMX)"
                     : module_loaded("kvm_amd") ? "kvm_amd (AMD SVM)"
                                                : "not PVM";
    *why = std::string("this host's KVM is ") + hw +
           "; this build of elfuse supports only the PVM backend (kvm_pvm module) so far";
    return nullptr;
  }
  if (ioctl(kvm.get(), KVM_CHECK_EXTENSION, KVM_CAP_SYNC_REGS) <= 0) {
    *why = "/dev/kvm lacks KVM_CAP_SYNC_REGS, which elfuse needs";
    return nullptr;
  }
  // KVM_CREATE_VM registers an MMU notifier, which takes every lock of the mm
  // and gives up with EINTR when a signal is pending (mm_take_all_locks): a
  // forked child that a signal reaches while it builds its VM. The host
  // handler has recorded the signal by the time the ioctl returns; try again.
  int vmfd;
  do {
    vmfd = ioctl(kvm.get(), KVM_CREATE_VM, 0);
  } while (vmfd < 0 && errno == EINTR);
  if (vmfd < 0) {
    *why = errno_text("KVM_CREATE_VM failed");
    return nullptr;
  }
  vmfd = move_to_private_fd(vmfd);
  if (vmfd < 0) {
    *why = errno_text("cannot move the VM descriptor");
    return nullptr;
  }
  auto vm = std::make_unique<PvmVm>(std::move(kvm), UniqueFd(vmfd), memory, size);
  if (auto r = vm->register_memory(initial); !r.ok()) {
    *why = std::string("cannot register guest memory with KVM: ") + strerror(r.error());
    return nullptr;
  }
  return vm;
}

void open_hypervisor_device() {
  (void)kvm_device_fd();
}

std::unique_ptr<Vm> create_vm_or_die(uint8_t* memory, uint64_t size, uint64_t initial) {
  std::string why;
  std::unique_ptr<Vm> vm = create_vm(memory, size, initial, &why);
  if (!vm) fatal("%s", why.c_str());
  return vm;
}

}  // namespace elfuse
