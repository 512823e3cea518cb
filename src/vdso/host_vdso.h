// The host kernel's own vDSO, as the elfuse process has it: its data pages
// ([vvar], [vvar_vclock]) and its text ([vdso]). elfuse gives every guest
// the same vDSO (docs/internals.md, "The vDSO"): a copy of the text and the
// host's data pages themselves, at the same distances from each other, so
// the host kernel's own code computes the time from data the host kernel
// keeps current.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace elfuse {

struct HostVdso {
  // The rows that precede the text in the host's /proc/self/maps, in
  // address order ([vvar], then [vvar_vclock] on Linux 6.13 and later),
  // each directly followed by the next and the last by the text.
  struct DataRow {
    std::string name;
    uint64_t offset;  // from the first data page
    uint64_t len;
  };
  std::vector<DataRow> data_rows;
  uint8_t* data = nullptr;  // host address of the first data page
  uint64_t data_len = 0;    // all data rows; the text starts this far after `data`
  uint64_t text_len = 0;    // the [vdso] row
  // A sealed memfd (above the private fd floor) holding the text bytes:
  // guests map it private, so a guest store copies on write and
  // MADV_DONTNEED brings the original back, as for the kernel's pages.
  int text_fd = -1;
};

// The host's vDSO, found once (AT_SYSINFO_EHDR and /proc/self/maps), or
// nullptr when the host has none elfuse can use (booted with vdso=0, a
// layout other than data rows directly below the text): guests then run
// without one, as under vdso=0.
const HostVdso* host_vdso();

}  // namespace elfuse
