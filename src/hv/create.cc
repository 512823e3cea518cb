// Opening /dev/kvm and choosing the backend: PVM (the kvm_pvm module) or
// hardware KVM (kvm_intel, kvm_amd). Every failure is one line that says
// what is wrong and what to do.
#include <fcntl.h>
#include <linux/kvm.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "base/log.h"
#include "base/private_fd.h"
#include "hv/hw/hw_vm.h"
#include "hv/pvm/pvm_vm.h"

namespace elfuse {
namespace {

bool module_loaded(const char* name) {
  struct stat st;
  std::string path = std::string("/sys/module/") + name;
  return stat(path.c_str(), &st) == 0;
}

// "vmx", "svm" or "" from /proc/cpuinfo's flags.
std::string cpu_virt_flag() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("flags", 0) != 0) continue;
    std::istringstream words(line);
    std::string w;
    while (words >> w) {
      if (w == "vmx" || w == "svm") return w;
    }
    return "";
  }
  return "";
}

const char* kvm_device() {
  const char* override = getenv("ELFUSE_KVM_DEVICE");
  return override && *override ? override : "/dev/kvm";
}

// What to do on a host whose /dev/kvm is missing.
std::string no_kvm_hint() {
  std::string flag = cpu_virt_flag();
  if (flag == "vmx") return "this CPU has Intel VT-x: load kvm_intel (modprobe kvm_intel)";
  if (flag == "svm") return "this CPU has AMD-V: load kvm_amd (modprobe kvm_amd)";
  return "this CPU shows no VT-x/AMD-V (a VM without nested virtualization?): load the "
         "kvm_pvm module, or enable nested virtualization";
}

struct Probe {
  Backend available = Backend::kAuto;  // kAuto: none usable
  std::string module;                  // kvm_pvm, kvm_amd, kvm_intel
  std::string problem;                 // why none is usable
  UniqueFd fd;
};

// /dev/kvm is opened once, with the credentials elfuse starts with, and
// every later probe (a forked child's VM, the new image's at execve) uses a
// duplicate of that descriptor: the guest may have given those credentials
// up by then (setuid to a user who may not open /dev/kvm, which is usually
// root's or the kvm group's), and the kernel checks permission only at
// open. A forked child inherits the descriptor. -errno when it cannot be
// opened.
int kvm_device_master() {
  static const int device = [] {
    int fd = open(kvm_device(), O_RDWR | O_CLOEXEC);
    if (fd < 0) return -errno;
    int moved = move_to_private_fd(fd);
    return moved < 0 ? -errno : moved;
  }();
  return device;
}

int kvm_device_fd() {
  const int device = kvm_device_master();
  if (device < 0) return device;
  int fd = fcntl(device, F_DUPFD_CLOEXEC, private_fd_floor());
  return fd < 0 ? -errno : fd;
}

// cached: through kvm_device_fd (a VM); else a plain open (--version, which
// runs before the private fd floor is set up).
Probe probe_kvm(bool cached) {
  Probe p;
  const char* dev = kvm_device();
  int fd = cached ? kvm_device_fd() : open(dev, O_RDWR | O_CLOEXEC);
  if (!cached && fd < 0) fd = -errno;
  if (fd < 0) {
    int e = -fd;
    if (e == ENOENT)
      p.problem = std::string(dev) +
                  " does not exist: this host has no KVM; elfuse needs hardware virtualization "
                  "(kvm_intel or kvm_amd) or the kvm_pvm module; " +
                  no_kvm_hint();
    else if (e == EACCES || e == EPERM)
      p.problem = std::string("no permission to open ") + dev +
                  ": add your user to its group (ls -l " + dev +
                  ") or ask an administrator for access";
    else
      p.problem = std::string("cannot open ") + dev + ": " + strerror(e);
    return p;
  }
  p.fd = UniqueFd(fd);
  int api = ioctl(fd, KVM_GET_API_VERSION, 0);
  if (api != KVM_API_VERSION) {
    p.problem = std::string("the KVM device ") + dev + " is not KVM (KVM_GET_API_VERSION gave " +
                std::to_string(api) + ", elfuse needs " + std::to_string(KVM_API_VERSION) + ")";
    return p;
  }
  if (ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_SYNC_REGS) <= 0) {
    p.problem = std::string(dev) + " lacks KVM_CAP_SYNC_REGS, which elfuse needs";
    return p;
  }
  if (module_loaded("kvm_pvm")) {
    p.available = Backend::kPvm;
    p.module = "kvm_pvm";
  } else if (module_loaded("kvm_amd")) {
    p.available = Backend::kHardware;
    p.module = "kvm_amd";
  } else if (module_loaded("kvm_intel")) {
    p.available = Backend::kHardware;
    p.module = "kvm_intel";
  } else if (!cpu_virt_flag().empty()) {
    // KVM built into the kernel shows no module; the CPU flag tells.
    p.available = Backend::kHardware;
    p.module = cpu_virt_flag() == "vmx" ? "kvm_intel" : "kvm_amd";
  } else {
    p.problem = std::string(dev) +
                " is KVM, but neither kvm_pvm nor kvm_intel/kvm_amd is loaded and the CPU "
                "shows no VT-x/AMD-V; pick one with --backend=pvm or --backend=hardware";
  }
  return p;
}

Backend g_forced = Backend::kAuto;

std::string module_detail(const std::string& module) {
  if (module == "kvm_amd") return "kvm_amd, AMD SVM";
  if (module == "kvm_intel") return "kvm_intel, Intel VMX";
  return module;
}

}  // namespace

void force_backend(Backend b) {
  g_forced = b;
}

std::string backend_description() {
  Probe p = probe_kvm(false);
  if (g_forced != Backend::kAuto) {
    std::string name = g_forced == Backend::kPvm ? "PVM" : "hardware KVM";
    return name + " (forced by --backend" +
           (p.available == g_forced ? ", " + module_detail(p.module) + ")" : "; not this host's)");
  }
  if (p.available == Backend::kPvm) return "PVM (kvm_pvm)";
  if (p.available == Backend::kHardware) return "hardware KVM (" + module_detail(p.module) + ")";
  return "none: " + p.problem;
}

std::unique_ptr<Vm> create_vm(uint8_t* memory, uint64_t size, uint64_t initial, std::string* why) {
  // Probed once per elfuse process: a forked child keeps its parent's
  // answer.
  static Backend chosen = Backend::kAuto;
  Probe p = probe_kvm(true);
  if (!p.fd.valid()) {
    *why = p.problem;
    return nullptr;
  }
  if (chosen == Backend::kAuto) {
    if (g_forced != Backend::kAuto) {
      // --backend: the one asked for, if this host's KVM can be it.
      if (p.available != Backend::kAuto && p.available != g_forced) {
        *why = std::string("--backend=") + (g_forced == Backend::kPvm ? "pvm" : "hardware") +
               ": this host's KVM is " + module_detail(p.module) + ", which is " +
               (p.available == Backend::kPvm ? "PVM" : "hardware virtualization, not PVM");
        return nullptr;
      }
      chosen = g_forced;
    } else {
      if (p.available == Backend::kAuto) {
        *why = p.problem;
        return nullptr;
      }
      chosen = p.available;
    }
  }
  // KVM_CREATE_VM registers an MMU notifier, which takes every lock of the
  // mm and gives up with EINTR when a signal is pending (mm_take_all_locks):
  // a forked child that a signal reaches while it builds its VM. The host
  // handler has recorded the signal by the time the ioctl returns; try again.
  int vmfd;
  do {
    vmfd = ioctl(p.fd.get(), KVM_CREATE_VM, 0);
  } while (vmfd < 0 && errno == EINTR);
  if (vmfd < 0) {
    *why = std::string("KVM_CREATE_VM failed: ") + strerror(errno);
    return nullptr;
  }
  vmfd = move_to_private_fd(vmfd);
  if (vmfd < 0) {
    *why = std::string("cannot move the VM descriptor: ") + strerror(errno);
    return nullptr;
  }
  int kvmfd = p.fd.release();  // already above the floor (kvm_device_fd)
  std::unique_ptr<KvmVm> vm;
  if (chosen == Backend::kPvm)
    vm = std::make_unique<PvmVm>(UniqueFd(kvmfd), UniqueFd(vmfd), memory, size);
  else
    vm = std::make_unique<HwVm>(UniqueFd(kvmfd), UniqueFd(vmfd), memory, size);
  if (auto r = vm->register_memory(initial); !r.ok()) {
    *why = std::string("cannot register guest memory with KVM: ") + strerror(r.error());
    return nullptr;
  }
  return vm;
}

void open_hypervisor_device() {
  (void)kvm_device_master();
}

std::unique_ptr<Vm> create_vm_or_die(uint8_t* memory, uint64_t size, uint64_t initial) {
  std::string why;
  std::unique_ptr<Vm> vm = create_vm(memory, size, initial, &why);
  if (!vm) fatal("%s", why.c_str());
  return vm;
}

}  // namespace elfuse
