#include "vdso/vdso.h"

#include <sys/mman.h>

#include <cerrno>

#include "hv/hypervisor.h"
#include "mm/memory_manager.h"
#include "vdso/host_vdso.h"

namespace elfuse {

bool vdso_available() {
  return host_vdso() != nullptr;
}

uint64_t vdso_text_size() {
  const HostVdso* h = host_vdso();
  return h ? h->text_len : 0;
}

Result<void> vdso_attach(Vm& vm) {
  const HostVdso* h = host_vdso();
  if (!h) return Errno{ENOENT};
  return vm.map_host_readonly(kVdsoDataGpa, h->data, h->data_len);
}

Result<uint64_t> vdso_map(MemoryManager& mm, uint64_t addr) {
  const HostVdso* h = host_vdso();
  if (!h) return Errno{ENOENT};
  const uint64_t block = h->data_len + h->text_len;
  addr = TRY(mm.free_area(addr, block));
  // VM_READ|VM_MAYREAD (|VM_IO|VM_PFNMAP|VM_DONTDUMP) for the data,
  // VM_READ|VM_EXEC|VM_MAY{READ,WRITE,EXEC} for the text (may-write so that
  // a debugger can write breakpoints into a private copy).
  for (const HostVdso::DataRow& row : h->data_rows) {
    MemoryManager::SpecialMapping m;
    m.name = row.name;
    m.gpa = kVdsoDataGpa + row.offset;
    m.host = h->data + row.offset;
    TRY(mm.map_special(addr + row.offset, row.len, m));
  }
  MemoryManager::SpecialMapping text;
  text.name = "[vdso]";
  text.prot = PROT_READ | PROT_EXEC;
  text.max_prot = PROT_READ | PROT_WRITE | PROT_EXEC;
  text.fd = h->text_fd;
  TRY(mm.map_special(addr + h->data_len, h->text_len, text));
  return addr + h->data_len;
}

Result<uint64_t> vdso_map_once(MemoryManager& mm, uint64_t addr) {
  const HostVdso* h = host_vdso();
  if (!h) return Errno{ENOENT};
  for (const Vma& v : mm.snapshot()) {
    if (!v.special) continue;
    if (v.name == "[vdso]") return Errno{EEXIST};
    for (const HostVdso::DataRow& row : h->data_rows)
      if (v.name == row.name) return Errno{EEXIST};
  }
  return vdso_map(mm, addr);
}

}  // namespace elfuse
