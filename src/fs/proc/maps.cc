// /proc/<pid>/maps, smaps and smaps_rollup of the guest (fs/proc/task_mmu.c),
// and the mm counters stat, statm and status print (procfs_text.h).
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "base/private_fd.h"
#include "base/unique_fd.h"
#include "fs/proc/procfs_text.h"
#include "fs/sysroot.h"
#include "loader/elf.h"

namespace elfuse::procfs_text {

// ---- per-VMA facts ----

// The kernel's vm_flags bits we can tell from a Vma.
struct VmaFlags {
  bool read, write, exec, shared, mayread, maywrite, mayexec, mayshare, growsdown, pfnmap, locked,
      io, dontcopy, dontexpand, lockonfault, account, noreserve, wipeonfork, dontdump, sealed;
};

bool is_map_shared(const Vma& v) {
  return (v.flags & MAP_TYPE) == MAP_SHARED || (v.flags & MAP_TYPE) == 0x03;
}

// A VMA whose contents come from a file: an overlay of a file (the
// loader's ELF segments are overlays too).
bool has_file(const Vma& v) {
  if (v.special) return false;  // the vDSO text's memfd is elfuse's business
  return v.backing == Vma::kFile || v.backing == Vma::kSharedAnon || v.backing == Vma::kShm;
}

VmaFlags vma_flags(const std::vector<Vma>& all, size_t i) {
  const Vma& v = all[i];
  VmaFlags f{};
  f.read = v.prot & PROT_READ;
  f.write = v.prot & PROT_WRITE;
  f.exec = v.prot & PROT_EXEC;
  f.mayshare = is_map_shared(v);
  // VM_SHARED: a shared mapping that may be written (mm/mmap.c do_mmap
  // clears it for a shared mapping of a file not open for writing).
  f.shared = f.mayshare && (v.max_prot & PROT_WRITE);
  f.mayread = v.max_prot & PROT_READ;
  f.maywrite = v.max_prot & PROT_WRITE;
  f.mayexec = v.max_prot & PROT_EXEC;
  f.growsdown = v.flags & MAP_GROWSDOWN;
  f.locked = v.lock != Vma::kUnlocked;
  f.lockonfault = v.lock == Vma::kLockedOnFault;
  f.noreserve = v.flags & MAP_NORESERVE;
  // _install_special_mapping adds VM_DONTEXPAND; the vDSO data pages are
  // VM_IO|VM_PFNMAP|VM_DONTDUMP (lib/vdso/datastore.c, vdso/vma.c).
  f.dontexpand = v.special;
  f.pfnmap = f.io = f.dontdump = v.backing == Vma::kHost;
  f.sealed = v.sealed;  // mseal(2): VM_SEALED
  f.dontcopy = v.dont_fork;
  f.wipeonfork = v.wipe_on_fork;
  // VM_ACCOUNT (mm/mmap.c accountable_mapping): private, writable when
  // mapped or made writable by mprotect, and kept when it is made
  // read-only again. The VMA does not remember having been writable; the
  // one such case every program has is RELRO, a read-only piece of a file
  // directly followed by the writable rest of the same file.
  if (!f.mayshare && !f.noreserve) {
    if (f.write) {
      f.account = true;
    } else if (has_file(v) && !f.exec && i + 1 < all.size()) {
      const Vma& n = all[i + 1];
      f.account = n.start == v.end && n.file_dev == v.file_dev && n.file_ino == v.file_ino &&
                  (n.prot & PROT_WRITE) && !is_map_shared(n);
    }
  }
  return f;
}

// Page residency of a VMA's host pages, from /proc/self/pagemap (bit 63
// present, 62 swapped, 61 file page or shared anonymous, 56 exclusively
// mapped): the guest's pages are exactly the host pages of its runs.
struct Residency {
  uint64_t resident = 0, swap = 0;
  uint64_t anon = 0, file = 0, shmem = 0;  // resident pages by kind
  uint64_t private_pages = 0;              // resident and mapped only here
};

Residency residency(const Process& proc, int pagemap_fd, const Vma& v) {
  Residency r;
  // PFN mappings have no pages the kernel counts (vm_normal_page).
  if (pagemap_fd < 0 || v.backing == Vma::kHost) return r;
  uint64_t host = reinterpret_cast<uint64_t>(proc.reservation + v.phys);
  uint64_t pages = v.len() / kPage;
  std::vector<uint64_t> buf(512);
  for (uint64_t done = 0; done < pages;) {
    uint64_t n = std::min<uint64_t>(pages - done, buf.size());
    ssize_t got =
        ::pread(pagemap_fd, buf.data(), n * 8, static_cast<off_t>((host / kPage + done) * 8));
    if (got <= 0) break;
    uint64_t m = static_cast<uint64_t>(got) / 8;
    for (uint64_t k = 0; k < m; k++) {
      uint64_t e = buf[k];
      if (e & (1ull << 62)) r.swap++;
      if (!(e & (1ull << 63))) continue;
      r.resident++;
      if (e & (1ull << 56)) r.private_pages++;
      bool filepage = e & (1ull << 61);
      if (v.backing == Vma::kSharedAnon || v.backing == Vma::kShm)
        r.shmem++;
      else if (filepage)
        r.file++;
      else
        r.anon++;
    }
    done += m;
  }
  return r;
}

UniqueFd open_pagemap() {
  int fd = ::open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return UniqueFd();
  return UniqueFd(move_to_private_fd(fd));
}

// ---- maps ----

std::string hex_width(uint64_t v, int width) {
  char buf[32];
  snprintf(buf, sizeof buf, "%0*llx", width, static_cast<unsigned long long>(v));
  return buf;
}

std::string vma_name(const Process& proc, const Vma& v) {
  if (v.special) return v.name;                                     // vm_special_mapping.name
  if (v.backing == Vma::kSharedAnon) return "/dev/zero (deleted)";  // shmem_zero_setup
  if (!has_file(v)) {
    // fs/proc/task_mmu.c get_vma_name: vma_is_initial_heap and
    // vma_is_initial_stack, whatever made the VMA.
    uint64_t start_brk = proc.exec_layout.start_brk, brk = proc.memory->current_brk();
    if (v.start <= brk && v.end >= start_brk) return "[heap]";
    uint64_t sp = proc.exec_layout.start_stack;
    if (v.start <= sp && v.end >= sp) return "[stack]";
    return "";
  }
  if (v.name.empty() || v.name[0] != '/' || !proc.sysroot || v.backing != Vma::kFile) return v.name;
  // An overlay's name is the host path of its fd; the guest knows it by
  // its path inside the root.
  if (auto g = proc.sysroot->guest_path(v.name)) return *g;
  return v.name;
}

// fs/proc/task_mmu.c show_map_vma.
void show_map_vma(const Process& proc, const std::vector<Vma>& all, size_t i, std::string& out) {
  const Vma& v = all[i];
  VmaFlags f = vma_flags(all, i);
  size_t line_start = out.size();
  uint64_t dev = 0, ino = 0, pgoff = 0;
  if (has_file(v)) {
    dev = v.file_dev;
    ino = v.file_ino;
    pgoff = v.file_offset;
  }
  out += hex_width(v.start, 8) + "-" + hex_width(v.end, 8) + " ";
  out += f.read ? 'r' : '-';
  out += f.write ? 'w' : '-';
  out += f.exec ? 'x' : '-';
  out += f.mayshare ? 's' : 'p';
  out += " " + hex_width(pgoff, 8) + " " + hex_width(major(dev), 2) + ":" +
         hex_width(minor(dev), 2) + " " + std::to_string(ino) + " ";
  std::string name = vma_name(proc, v);
  if (!name.empty()) {
    // seq_pad: spaces up to column 25 + 6 * sizeof(void*) - 1, then one.
    constexpr size_t kPad = 25 + 6 * 8 - 1;
    size_t len = out.size() - line_start;
    if (len < kPad) out.append(kPad - len, ' ');
    out += ' ';
    // seq_path escapes a newline as \012.
    for (char c : name) {
      if (c == '\n')
        out += "\\012";
      else
        out += c;
    }
  }
  out += '\n';
}

std::string kb_line(const char* label, uint64_t bytes) {
  // SEQ_PUT_DEC: the value in kB, right-aligned in 8 columns.
  char buf[96];
  snprintf(buf, sizeof buf, "%s%8llu kB\n", label, static_cast<unsigned long long>(bytes >> 10));
  return buf;
}

// VM_SOFTDIRTY ("sd") marks every new VMA on a kernel built with
// CONFIG_MEM_SOFT_DIRTY (Debian's is; others are not), until a write of 4 to
// clear_refs, which the guest cannot do. The host kernel says which: its own
// smaps of this process shows the flag or not. The exec stack is the
// exception: setup_arg_pages' mprotect_fixup gives it VM_STACK_FLAGS
// without the bit (fs/exec.c), so a growsdown VMA goes without it.
// __show_smap's KSM line is a kernel 6.7 addition: shown when the host's
// kernel shows it (the guest reads the host's version in uname).
bool host_shows_ksm() {
  static const bool shows = [] {
    int fd = open("/proc/self/smaps_rollup", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return true;
    char buf[4096];
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return true;
    buf[n] = 0;
    return strstr(buf, "\nKSM:") != nullptr;
  }();
  return shows;
}

bool host_marks_soft_dirty() {
  static const bool marks = [] {
    int fd = open("/proc/self/smaps", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    std::string text;
    char buf[4096];
    ssize_t n;
    while (text.size() < (1u << 20) && (n = read(fd, buf, sizeof buf)) > 0) text.append(buf, n);
    close(fd);
    size_t at = text.find("VmFlags:");
    if (at == std::string::npos) return false;
    size_t end = text.find('\n', at);
    return (text.substr(at, end - at) + " ").find(" sd ") != std::string::npos;
  }();
  return marks;
}

std::string vm_flags_line(const VmaFlags& f) {
  std::string s = "VmFlags: ";
  auto add = [&](bool on, const char* m) {
    if (on) {
      s += m;
      s += ' ';
    }
  };
  // show_smap_vma_flags, in bit order.
  add(f.read, "rd");
  add(f.write, "wr");
  add(f.exec, "ex");
  add(f.shared, "sh");
  add(f.mayread, "mr");
  add(f.maywrite, "mw");
  add(f.mayexec, "me");
  add(f.mayshare, "ms");
  add(f.growsdown, "gd");
  add(f.pfnmap, "pf");
  add(f.locked, "lo");
  add(f.io, "io");
  add(f.dontcopy, "dc");
  add(f.dontexpand, "de");
  add(f.lockonfault, "lf");
  add(f.account, "ac");
  add(f.noreserve, "nr");
  add(f.wipeonfork, "wf");
  add(f.dontdump, "dd");
  add(!f.growsdown && host_marks_soft_dirty(), "sd");
  add(f.sealed, "sl");
  s += '\n';
  return s;
}

// fs/proc/task_mmu.c show_smap + __show_smap. Dirtiness is not visible in
// pagemap: anonymous pages are counted dirty, file pages clean.
void show_smap(const Process& proc, const std::vector<Vma>& all, size_t i, int pagemap_fd,
               std::string& out) {
  const Vma& v = all[i];
  show_map_vma(proc, all, i, out);
  Residency r = residency(proc, pagemap_fd, v);
  uint64_t rss = r.resident * kPage;
  uint64_t priv = r.private_pages * kPage, shared = rss - std::min(rss, priv);
  bool dirty = r.anon + r.shmem > 0 && r.file == 0;
  uint64_t pss = rss, pss_dirty = dirty ? rss : 0;
  uint64_t shared_clean = dirty ? 0 : shared, shared_dirty = dirty ? shared : 0;
  uint64_t private_clean = dirty ? 0 : priv, private_dirty = dirty ? priv : 0;
  if (v.special) {
    // The kernel's vDSO pages are mapped by every process (Pss rounds to
    // 0); a page the program wrote is its own anonymous copy.
    shared_clean = r.file * kPage;
    shared_dirty = private_clean = 0;
    pss = pss_dirty = private_dirty = r.anon * kPage;
  }
  out += kb_line("Size:           ", v.len());
  out += kb_line("KernelPageSize: ", kPage);
  out += kb_line("MMUPageSize:    ", kPage);
  out += kb_line("Rss:            ", rss);
  out += kb_line("Pss:            ", pss);
  out += kb_line("Pss_Dirty:      ", pss_dirty);
  out += kb_line("Shared_Clean:   ", shared_clean);
  out += kb_line("Shared_Dirty:   ", shared_dirty);
  out += kb_line("Private_Clean:  ", private_clean);
  out += kb_line("Private_Dirty:  ", private_dirty);
  out += kb_line("Referenced:     ", rss);
  out += kb_line("Anonymous:      ", r.anon * kPage);
  if (host_shows_ksm()) out += kb_line("KSM:            ", 0);
  out += kb_line("LazyFree:       ", 0);
  out += kb_line("AnonHugePages:  ", 0);
  out += kb_line("ShmemPmdMapped: ", 0);
  out += kb_line("FilePmdMapped:  ", 0);
  out += kb_line("Shared_Hugetlb: ", 0);
  out += "Private_Hugetlb:       0 kB\n";  // width 7 in __show_smap
  out += kb_line("Swap:           ", r.swap * kPage);
  out += kb_line("SwapPss:        ", r.swap * kPage);
  // __show_smap: the VMA's Pss when it is VM_LOCKED.
  out += kb_line("Locked:         ", v.lock != Vma::kUnlocked ? rss : 0);
  out += "THPeligible:           0\n";
  out += vm_flags_line(vma_flags(all, i));
}

// fs/proc/task_mmu.c show_smaps_rollup: the header line spans the first
// VMA's start to the last one's end (the gate page is not a VMA of the
// mm), then __show_smap's sums with the rollup's Pss split by page kind.
std::string smaps_rollup_text(const Process& proc, const std::vector<Vma>& all, int pagemap_fd) {
  static const char* const kKeys[] = {"Rss",
                                      "Pss",
                                      "Pss_Dirty",
                                      "Pss_Anon",
                                      "Pss_File",
                                      "Pss_Shmem",
                                      "Shared_Clean",
                                      "Shared_Dirty",
                                      "Private_Clean",
                                      "Private_Dirty",
                                      "Referenced",
                                      "Anonymous",
                                      "KSM",
                                      "LazyFree",
                                      "AnonHugePages",
                                      "ShmemPmdMapped",
                                      "FilePmdMapped",
                                      "Shared_Hugetlb",
                                      "Private_Hugetlb",
                                      "Swap",
                                      "SwapPss",
                                      "Locked"};
  std::map<std::string, uint64_t> kb;
  uint64_t first = 0, last = 0;
  bool any = false;
  for (size_t i = 0; i < all.size(); i++) {
    const Vma& v = all[i];
    if (v.start >= kUserAddressEnd) continue;
    if (!any) first = v.start;
    any = true;
    last = v.end;
    std::string one;
    show_smap(proc, all, i, pagemap_fd, one);
    std::map<std::string, uint64_t> vals;
    size_t at = one.find('\n');  // past the maps line
    while (at != std::string::npos && at + 1 < one.size()) {
      size_t end = one.find('\n', at + 1);
      std::string line = one.substr(at + 1, end == std::string::npos ? end : end - at - 1);
      at = end;
      size_t colon = line.find(':');
      if (colon == std::string::npos || line.find(" kB") == std::string::npos) continue;
      vals[line.substr(0, colon)] = std::strtoull(line.c_str() + colon + 1, nullptr, 10);
    }
    for (const auto& [k, n] : vals) kb[k] += n;
    // The Pss of this VMA by the kind of its pages: shared memory, else
    // anonymous (copied-on-write pages of a file mapping too), else file.
    uint64_t pss = vals["Pss"], anon = std::min(vals["Anonymous"], pss);
    bool shmem = v.backing == Vma::kSharedAnon || v.backing == Vma::kShm;
    kb["Pss_Shmem"] += shmem ? pss : 0;
    kb["Pss_Anon"] += shmem ? 0 : anon;
    kb["Pss_File"] += shmem ? 0 : pss - anon;
  }
  std::string out;
  if (!any) return out;  // a process without an mm: no header either
  out += hex_width(first, 8) + "-" + hex_width(last, 8) + " ---p 00000000 00:00 0";
  constexpr size_t kPad = 25 + 6 * 8 - 1;
  if (out.size() < kPad) out.append(kPad - out.size(), ' ');
  out += " [rollup]\n";
  for (const char* k : kKeys) {
    if (!strcmp(k, "KSM") && !host_shows_ksm()) continue;
    char label[32];
    snprintf(label, sizeof label, "%s:", k);
    char line[96];
    // __show_smap: the label padded to 16, the value in 8 columns.
    snprintf(line, sizeof line, "%-16s%8llu kB\n", label, static_cast<unsigned long long>(kb[k]));
    out += line;
  }
  return out;
}

// ---- the mm counters (total_vm, data_vm, ..., MM_*PAGES) ----

MmCounters mm_counters(const Process& proc, const std::vector<Vma>& all) {
  MmCounters c;
  UniqueFd pm = open_pagemap();
  std::set<uint64_t> pmd, pud;  // page-table pages the VMAs need
  for (size_t i = 0; i < all.size(); i++) {
    const Vma& v = all[i];
    VmaFlags f = vma_flags(all, i);
    uint64_t pages = v.len() / kPage;
    c.total_vm += pages;
    // mm/internal.h is_exec_mapping / is_stack_mapping / is_data_mapping.
    if (f.growsdown)
      c.stack_vm += pages;
    else if (f.exec && !f.write)
      c.exec_vm += pages;
    else if (f.write && !f.shared)
      c.data_vm += pages;
    Residency r = residency(proc, pm.get(), v);
    c.anon += r.anon;
    c.file += r.file;
    c.shmem += r.shmem;
    c.swap += r.swap;
    for (uint64_t a = v.start >> 21; a <= (v.end - 1) >> 21; a++) pmd.insert(a);
    for (uint64_t a = v.start >> 30; a <= (v.end - 1) >> 30; a++) pud.insert(a);
  }
  std::set<uint64_t> p4d;
  for (uint64_t a : pud) p4d.insert(a >> 9);
  c.pte_bytes = (pmd.size() + pud.size() + p4d.size()) * kPage;
  return c;
}

uint64_t text_bytes(const ExecLayout& l) {
  uint64_t end = (l.end_code + kPage - 1) & ~(kPage - 1);
  uint64_t start = l.start_code & ~(kPage - 1);
  return end > start ? end - start : 0;
}

}  // namespace elfuse::procfs_text
