#include "kernel/procfs.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <utility>
#include <vector>

#include "base/private_fd.h"
#include "base/unique_fd.h"
#include "fs/lexical_path.h"
#include "fs/sysroot.h"
#include "kernel/peer.h"
#include "kernel/proc_mem.h"
#include "loader/elf.h"
#include "loader/load.h"

namespace elfuse {
namespace {

constexpr uint64_t kPage = 4096;

// ---- reading host files ----

bool read_host_file(const std::string& path, std::string* out) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  UniqueFd owned(fd);
  out->clear();
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return false;
    if (n == 0) return true;
    out->append(buf, static_cast<size_t>(n));
  }
}

int own_pid(const Process& p) {
  return p.pid != 0 ? p.pid : static_cast<int>(::getpid());
}

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

struct MmCounters {
  uint64_t total_vm = 0, data_vm = 0, stack_vm = 0, exec_vm = 0;  // pages
  uint64_t anon = 0, file = 0, shmem = 0, swap = 0;               // pages
  uint64_t pte_bytes = 0;
};

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

// ---- stat, statm, status ----

uint64_t sig_ignored(const Process& p) {
  uint64_t m = 0;
  for (int s = 0; s < 64; s++)
    if (p.sigactions[s].handler == 1) m |= 1ull << s;
  return m;
}
uint64_t sig_caught(const Process& p) {
  uint64_t m = 0;
  for (int s = 0; s < 64; s++)
    if (p.sigactions[s].handler > 1) m |= 1ull << s;
  return m;
}

// The blocked set of task tid: the caller's own, else looked up among the
// process's threads; nullopt when it is not a guest thread we know.
std::optional<uint64_t> blocked_of(Process& proc, const Thread& caller, int tid) {
  if (caller.tid == tid) return caller.sigmask;
  std::lock_guard lock(proc.threads_mu);
  for (const auto& t : proc.threads)
    if (t && t->tid == tid) return t->sigmask;
  return std::nullopt;
}

struct GuestTaskFlags {
  bool no_new_privs = false;
  int seccomp = 0;  // task->seccomp.mode
  unsigned filters = 0;
};
GuestTaskFlags task_flags_of(Process& proc, const Thread& t) {
  std::lock_guard seccomp_lock(proc.seccomp_mu);
  unsigned n = seccomp_filter_count(t.seccomp_filter.get());
  return {t.no_new_privs, t.seccomp_strict ? 1 : n ? 2 : 0, n};
}
GuestTaskFlags guest_task_flags(Process& proc, const Thread& caller, int tid) {
  if (caller.tid == tid) return task_flags_of(proc, caller);
  std::lock_guard lock(proc.threads_mu);
  for (const auto& t : proc.threads)
    if (t && t->tid == tid) return task_flags_of(proc, *t);
  return {};
}

std::string host_task_dir(const Process& proc, const OwnProcTarget& t) {
  std::string d = "/proc/" + std::to_string(own_pid(proc));
  if (t.thread_level) d += "/task/" + std::to_string(t.tid);
  return d;
}

// fs/proc/array.c do_task_stat: the host's line for this task, with the
// fields that describe memory (and the guest's signal dispositions)
// replaced by the guest's.
std::string stat_text(Process& proc, const Thread& caller, const OwnProcTarget& t,
                      const std::vector<Vma>& all, const MmCounters& c) {
  std::string host;
  if (!read_host_file(host_task_dir(proc, t) + "/stat", &host)) return "";
  size_t close = host.rfind(')');
  if (close == std::string::npos || close + 2 > host.size()) return host;
  std::string head = host.substr(0, close + 1);  // "pid (comm)"
  std::vector<std::string> f;                    // f[0] is field 3 (state)
  {
    std::string rest = host.substr(close + 2);
    if (!rest.empty() && rest.back() == '\n') rest.pop_back();
    size_t p = 0;
    while (p <= rest.size()) {
      size_t sp = rest.find(' ', p);
      if (sp == std::string::npos) sp = rest.size();
      f.push_back(rest.substr(p, sp - p));
      p = sp + 1;
    }
  }
  auto set = [&](int field, uint64_t v) {
    if (field - 3 < static_cast<int>(f.size())) f[field - 3] = std::to_string(v);
  };
  const ExecLayout& l = proc.exec_layout;
  set(23, c.total_vm * kPage);         // vsize
  set(24, c.anon + c.file + c.shmem);  // rss
  {
    // num_threads: the guest's threads, not elfuse's own host threads.
    std::lock_guard lock(proc.threads_mu);
    set(20, std::max<size_t>(proc.threads.size(), 1));
  }
  set(26, l.start_code);   // startcode
  set(27, l.end_code);     // endcode
  set(28, l.start_stack);  // startstack
  if (auto b = blocked_of(proc, caller, t.tid)) set(32, *b & 0x7fffffffull);
  set(33, sig_ignored(proc) & 0x7fffffffull);
  set(34, sig_caught(proc) & 0x7fffffffull);
  set(45, l.start_data);
  set(46, l.end_data);
  set(47, l.start_brk);
  set(48, l.arg_start);
  set(49, l.arg_end);
  set(50, l.env_start);
  set(51, l.env_end);
  std::string out = head;
  for (const std::string& s : f) out += " " + s;
  out += '\n';
  return out;
}

// fs/proc/task_mmu.c task_statm.
std::string statm_text(const Process& proc, const MmCounters& c) {
  uint64_t shared = c.file + c.shmem;
  uint64_t resident = shared + c.anon;
  uint64_t text = text_bytes(proc.exec_layout) / kPage;
  uint64_t data = c.data_vm + c.stack_vm;
  char buf[160];
  snprintf(buf, sizeof buf, "%llu %llu %llu %llu 0 %llu 0\n",
           static_cast<unsigned long long>(c.total_vm), static_cast<unsigned long long>(resident),
           static_cast<unsigned long long>(shared), static_cast<unsigned long long>(text),
           static_cast<unsigned long long>(data));
  return buf;
}

std::string kb_field(const char* label, uint64_t bytes) {
  char buf[96];
  snprintf(buf, sizeof buf, "%s:\t%8llu kB\n", label, static_cast<unsigned long long>(bytes >> 10));
  return buf;
}

std::string sig_field(const char* label, uint64_t mask) {
  char buf[64];
  snprintf(buf, sizeof buf, "%s:\t%016llx\n", label, static_cast<unsigned long long>(mask));
  return buf;
}

// fs/proc/array.c proc_pid_status: the host's text, with the task_mem
// lines (fs/proc/task_mmu.c) and the signal dispositions the guest's.
std::string status_text(Process& proc, const Thread& caller, const OwnProcTarget& t,
                        const MmCounters& c) {
  std::string host;
  if (!read_host_file(host_task_dir(proc, t) + "/status", &host)) return "";
  uint64_t text = std::min(text_bytes(proc.exec_layout), c.exec_vm * kPage);
  uint64_t lib = c.exec_vm * kPage - text;
  uint64_t rss = (c.anon + c.file + c.shmem) * kPage;
  std::string vm;
  vm += kb_field("VmPeak", c.total_vm * kPage);
  vm += kb_field("VmSize", c.total_vm * kPage);
  vm += kb_field("VmLck", proc.memory->locked_bytes());
  vm += kb_field("VmPin", 0);
  vm += kb_field("VmHWM", rss);
  vm += kb_field("VmRSS", rss);
  vm += kb_field("RssAnon", c.anon * kPage);
  vm += kb_field("RssFile", c.file * kPage);
  vm += kb_field("RssShmem", c.shmem * kPage);
  vm += kb_field("VmData", c.data_vm * kPage);
  vm += kb_field("VmStk", c.stack_vm * kPage);
  vm += kb_field("VmExe", text);
  vm += kb_field("VmLib", lib);
  vm += kb_field("VmPTE", c.pte_bytes);
  vm += kb_field("VmSwap", c.swap * kPage);

  std::string out;
  bool vm_done = false;
  size_t p = 0;
  while (p < host.size()) {
    size_t nl = host.find('\n', p);
    size_t end = nl == std::string::npos ? host.size() : nl + 1;
    std::string line = host.substr(p, end - p);
    p = end;
    std::string key = line.substr(0, line.find(':'));
    static const char* const kVmKeys[] = {"VmPeak", "VmSize",  "VmLck",   "VmPin",    "VmHWM",
                                          "VmRSS",  "RssAnon", "RssFile", "RssShmem", "VmData",
                                          "VmStk",  "VmExe",   "VmLib",   "VmPTE",    "VmSwap"};
    bool is_vm = std::any_of(std::begin(kVmKeys), std::end(kVmKeys),
                             [&](const char* k) { return key == k; });
    if (is_vm) {
      if (!vm_done) out += vm;
      vm_done = true;
      continue;
    }
    if (key == "SigBlk") {
      auto b = blocked_of(proc, caller, t.tid);
      out += b ? sig_field("SigBlk", *b) : line;
    } else if (key == "Threads") {
      // The guest's threads; elfuse's own host threads are not the guest's.
      size_t n;
      {
        std::lock_guard lock(proc.threads_mu);
        n = proc.threads.size();
      }
      out += "Threads:\t" + std::to_string(std::max<size_t>(n, 1)) + "\n";
    } else if (key == "SigIgn") {
      out += sig_field("SigIgn", sig_ignored(proc));
    } else if (key == "SigCgt") {
      out += sig_field("SigCgt", sig_caught(proc));
    } else if (key == "NoNewPrivs" || key == "Seccomp" || key == "Seccomp_filters") {
      // The guest's own flags (task_seccomp, proc_pid_status), not the host
      // thread's: elfuse confines itself with no_new_privs and a filter
      // (base/self_confine.h); the guest's filters are elfuse's to run.
      auto g = guest_task_flags(proc, caller, t.tid);
      int v = key == "NoNewPrivs" ? g.no_new_privs
              : key == "Seccomp"  ? g.seccomp
                                  : static_cast<int>(g.filters);
      out += key + ":\t" + std::to_string(v) + "\n";
    } else {
      out += line;
    }
  }
  return out;
}

// ---- cmdline, environ ----

// access_remote_vm: as many bytes as can be read from [start, start+len).
std::string read_guest(MemoryManager& mm, uint64_t start, uint64_t len) {
  std::string out;
  if (len > (64ull << 20)) len = 64ull << 20;
  while (len > 0) {
    uint64_t n = std::min(len, kPage - (start & (kPage - 1)));
    std::string chunk(n, '\0');
    if (!mm.copy_in(chunk.data(), start, n)) break;
    out += chunk;
    start += n;
    len -= n;
  }
  return out;
}

// fs/proc/base.c get_mm_cmdline.
std::string cmdline_text(Process& proc) {
  const ExecLayout& l = proc.exec_layout;
  MemoryManager& mm = proc.mm();
  uint64_t arg_start = l.arg_start, arg_end = l.arg_end;
  uint64_t env_start = l.env_start, env_end = l.env_end;
  if (arg_start >= arg_end) return "";
  if (env_start != arg_end || env_end < env_start) env_start = env_end = arg_end;
  // The argv end byte is not NUL: setproctitle(3) overwrote the strings
  // (get_mm_proctitle: one page from arg_start, up to and with the first NUL).
  std::string last = read_guest(mm, arg_end - 1, 1);
  if (last.size() == 1 && last[0] != '\0') {
    std::string page = read_guest(mm, arg_start, std::min(kPage, env_end - arg_start));
    size_t nul = page.find('\0');
    if (nul != std::string::npos) page.resize(nul + 1);
    return page;
  }
  return read_guest(mm, arg_start, arg_end - arg_start);
}

}  // namespace

ExecLayout exec_layout_of(const LoadedProgram& prog, const MappedStack& stack, uint64_t start_brk) {
  ExecLayout l;
  // fs/binfmt_elf.c load_elf_binary.
  uint64_t start_code = ~0ull, end_code = 0, start_data = 0, end_data = 0;
  for (const ElfSegment& s : prog.exe.image.loads) {
    uint64_t k = s.vaddr;
    if ((s.prot & PROT_EXEC) && k < start_code) start_code = k;
    if (start_data < k) start_data = k;
    k = s.vaddr + s.filesz;
    if ((s.prot & PROT_EXEC) && end_code < k) end_code = k;
    if (end_data < k) end_data = k;
  }
  uint64_t bias = prog.exe.bias;
  l.start_code = start_code + bias;
  l.end_code = end_code + bias;
  l.start_data = start_data + bias;
  l.end_data = end_data + bias;
  l.start_brk = start_brk;
  const InitialStack& img = stack.image;
  l.start_stack = img.rsp;  // mm->start_stack = bprm->p, at argc
  l.arg_start = img.arg_start;
  l.arg_end = img.arg_end;
  l.env_start = img.env_start;
  l.env_end = img.env_end;
  uint64_t off = img.auxv_addr - img.start;
  uint64_t len = img.auxv_count * 16;
  if (img.auxv_addr >= img.start && off + len <= img.bytes.size())
    l.saved_auxv.assign(img.bytes.begin() + static_cast<ptrdiff_t>(off),
                        img.bytes.begin() + static_cast<ptrdiff_t>(off + len));
  return l;
}

std::string guest_file_path(const Process& proc, int fd) {
  char buf[PATH_MAX];
  std::string link = "/proc/thread-self/fd/" + std::to_string(fd);
  ssize_t n = ::readlink(link.c_str(), buf, sizeof buf);
  if (n <= 0 || n >= static_cast<ssize_t>(sizeof buf)) return "";
  std::string path(buf, static_cast<size_t>(n));
  if (proc.sysroot) {
    if (auto g = proc.sysroot->guest_path(path)) return *g;
  }
  return path;
}

std::optional<OwnProcTarget> parse_own_proc_path(const Process& proc, const Thread& caller,
                                                 const std::string& path) {
  if (path.empty() || path[0] != '/' || path.back() == '/') return std::nullopt;
  // The components, with `.` and `..` taken lexically (no symlinks inside
  // /proc lead to these names but self and thread-self, handled below).
  std::vector<std::string> parts = lexical_components(path);
  if (parts.empty() || parts[0] != "proc") return std::nullopt;
  parts.erase(parts.begin());
  int pid = own_pid(proc);
  int tid = caller.tid != 0 ? caller.tid : static_cast<int>(::syscall(SYS_gettid));
  OwnProcTarget t{};
  size_t file_index;
  if (parts.size() == 2 && parts[0] == "self") {
    t.tid = pid;
    t.thread_level = false;
    file_index = 1;
  } else if (parts.size() == 2 && parts[0] == "thread-self") {
    t.tid = tid;
    t.thread_level = true;
    file_index = 1;
  } else if ((parts.size() == 2 || parts.size() == 4) && parts[0] == std::to_string(pid)) {
    t.tid = pid;
    t.thread_level = false;
    file_index = 1;
    if (parts.size() == 4) {
      if (parts[1] != "task") return std::nullopt;
      const std::string& who = parts[2];
      if (who.empty() || who.find_first_not_of("0123456789") != std::string::npos)
        return std::nullopt;
      // A task of this process: the host lists it under our pid.
      std::string dir = "/proc/" + std::to_string(pid) + "/task/" + who;
      if (::access(dir.c_str(), F_OK) != 0) return std::nullopt;
      t.tid = std::stoi(who);
      t.thread_level = true;
      file_index = 3;
    }
  } else {
    return std::nullopt;
  }
  const std::string& name = parts[file_index];
  if (name == "maps")
    t.file = OwnProcFile::kMaps;
  else if (name == "smaps")
    t.file = OwnProcFile::kSmaps;
  else if (name == "smaps_rollup")
    t.file = OwnProcFile::kSmapsRollup;
  else if (name == "cmdline")
    t.file = OwnProcFile::kCmdline;
  else if (name == "environ")
    t.file = OwnProcFile::kEnviron;
  else if (name == "auxv")
    t.file = OwnProcFile::kAuxv;
  else if (name == "stat")
    t.file = OwnProcFile::kStat;
  else if (name == "statm")
    t.file = OwnProcFile::kStatm;
  else if (name == "status")
    t.file = OwnProcFile::kStatus;
  else if (name == "limits")
    t.file = OwnProcFile::kLimits;
  else
    return std::nullopt;
  return t;
}

std::string limits_text(const uint64_t (&cur)[16], const uint64_t (&max)[16]) {
  static const char* const kNames[16][2] = {
      {"Max cpu time", "seconds"},        {"Max file size", "bytes"},
      {"Max data size", "bytes"},         {"Max stack size", "bytes"},
      {"Max core file size", "bytes"},    {"Max resident set", "bytes"},
      {"Max processes", "processes"},     {"Max open files", "files"},
      {"Max locked memory", "bytes"},     {"Max address space", "bytes"},
      {"Max file locks", "locks"},        {"Max pending signals", "signals"},
      {"Max msgqueue size", "bytes"},     {"Max nice priority", nullptr},
      {"Max realtime priority", nullptr}, {"Max realtime timeout", "us"},
  };
  char line[128];
  snprintf(line, sizeof line, "%-25s %-20s %-20s %-10s\n", "Limit", "Soft Limit", "Hard Limit",
           "Units");
  std::string out = line;
  auto value = [](uint64_t v) { return v == ~0ull ? std::string("unlimited") : std::to_string(v); };
  for (int i = 0; i < 16; i++) {
    snprintf(line, sizeof line, "%-25s %-20s %-20s ", kNames[i][0], value(cur[i]).c_str(),
             value(max[i]).c_str());
    out += line;
    if (kNames[i][1]) {
      snprintf(line, sizeof line, "%-10s", kNames[i][1]);
      out += line;
    }
    out += "\n";
  }
  return out;
}

std::string own_proc_content(Process& proc, const Thread& caller, const OwnProcTarget& t) {
  switch (t.file) {
    case OwnProcFile::kLimits: {
      // The guest's limits: elfuse's bookkeeping for those it keeps
      // (mm/guest_limits.h), the host process's for the others.
      uint64_t cur[16], max[16];
      for (int r = 0; r < 16; r++) {
        if (r == RLIMIT_NOFILE) {
          cur[r] = proc.fds.nofile_soft;
          max[r] = proc.fds.nofile_hard;
        } else if (rlimit_is_virtual(r)) {
          cur[r] = proc.limits.cur(r);
          max[r] = proc.limits.max(r);
        } else {
          struct rlimit lim {
            RLIM_INFINITY, RLIM_INFINITY
          };
          ::getrlimit(r, &lim);
          cur[r] = lim.rlim_cur;
          max[r] = lim.rlim_max;
        }
      }
      return limits_text(cur, max);
    }
    case OwnProcFile::kMaps: {
      std::vector<Vma> all = proc.mm().snapshot();
      std::string out;
      for (size_t i = 0; i < all.size(); i++) show_map_vma(proc, all, i, out);
      return out;
    }
    case OwnProcFile::kSmaps: {
      std::vector<Vma> all = proc.mm().snapshot();
      UniqueFd pm = open_pagemap();
      std::string out;
      for (size_t i = 0; i < all.size(); i++) show_smap(proc, all, i, pm.get(), out);
      return out;
    }
    case OwnProcFile::kSmapsRollup: {
      std::vector<Vma> all = proc.mm().snapshot();
      UniqueFd pm = open_pagemap();
      return smaps_rollup_text(proc, all, pm.get());
    }
    case OwnProcFile::kCmdline:
      return cmdline_text(proc);
    case OwnProcFile::kEnviron: {
      const ExecLayout& l = proc.exec_layout;
      if (l.env_end <= l.env_start) return "";
      return read_guest(proc.mm(), l.env_start, l.env_end - l.env_start);
    }
    case OwnProcFile::kAuxv:
      return std::string(proc.exec_layout.saved_auxv.begin(), proc.exec_layout.saved_auxv.end());
    case OwnProcFile::kStat:
    case OwnProcFile::kStatm:
    case OwnProcFile::kStatus: {
      std::vector<Vma> all = proc.mm().snapshot();
      MmCounters c = mm_counters(proc, all);
      if (t.file == OwnProcFile::kStat) return stat_text(proc, caller, t, all, c);
      if (t.file == OwnProcFile::kStatm) return statm_text(proc, c);
      return status_text(proc, caller, t, c);
    }
  }
  return "";
}

namespace {

// The text goes into a host memfd, kept above the guest's fds while it is
// filled; the guest gets a read-only reopening of it, so that the fd number
// is the lowest free one and write(2) is EBADF as on the kernel's read-only
// file.
Result<int> generated_file_fd(const std::string& text, int flags) {
  int mfd = static_cast<int>(::syscall(SYS_memfd_create, "proc", MFD_CLOEXEC));
  if (mfd < 0) return Result<int>(Errno{errno == EMFILE ? ENFILE : errno});
  mfd = move_to_private_fd(mfd);
  if (mfd < 0) return Result<int>(Errno{ENFILE});
  UniqueFd memfd(mfd);
  for (size_t done = 0; done < text.size();) {
    ssize_t n = ::write(mfd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Result<int>(Errno{ENOMEM});
    done += static_cast<size_t>(n);
  }
  int keep = flags & (O_CLOEXEC | O_NONBLOCK | O_NOATIME | O_NOFOLLOW | O_LARGEFILE);
  keep &= ~O_NOFOLLOW;  // the name below is a magic link
  std::string again = proc_fd_path(mfd);
  int fd = ::open(again.c_str(), O_RDONLY | keep);
  if (fd < 0) return Result<int>(Errno{errno});
  return Result<int>(fd);
}

// ---- another guest process of the run (kernel/peer.h) ----

std::optional<OwnProcFile> own_proc_file_named(const std::string& name) {
  static const std::pair<const char*, OwnProcFile> kNames[] = {
      {"maps", OwnProcFile::kMaps},
      {"smaps", OwnProcFile::kSmaps},
      {"smaps_rollup", OwnProcFile::kSmapsRollup},
      {"cmdline", OwnProcFile::kCmdline},
      {"environ", OwnProcFile::kEnviron},
      {"auxv", OwnProcFile::kAuxv},
      {"stat", OwnProcFile::kStat},
      {"statm", OwnProcFile::kStatm},
      {"status", OwnProcFile::kStatus},
      {"limits", OwnProcFile::kLimits}};
  for (const auto& [n, f] : kNames)
    if (name == n) return f;
  return std::nullopt;
}

// Task `tid` when it is another guest process's: the process itself, one
// of its guest threads, or one of its elfuse's threads (a task of the
// process that its elfuse does not list as a guest thread; also when it
// cannot answer). `guest_tids` keeps each process's answer for the facts'
// lifetime (one getdents batch, one open).
procview::PeerTask peer_task_of(int tid, std::map<int, std::vector<int>>& guest_tids) {
  if (std::optional<peer::Peer> p = peer::find(tid)) return {p->pid, false, p->fd_floor};
  int tgid = peer::host_tgid(tid);
  if (tgid <= 0 || tgid == tid) return {};
  std::optional<peer::Peer> p = peer::find(tgid);
  if (!p) return {};
  auto it = guest_tids.find(tgid);
  if (it == guest_tids.end()) {
    Result<std::vector<int>> r = peer::guest_tids(tgid);
    it = guest_tids.emplace(tgid, r.ok() ? std::move(*r) : std::vector<int>{}).first;
  }
  bool guest = std::find(it->second.begin(), it->second.end(), tid) != it->second.end();
  return {tgid, !guest, p->fd_floor};
}

// A generated file of another guest process: its elfuse's text, never the
// host's (that would be its elfuse's own maps, argv...).
Result<int> open_peer_file(const procview::Decision& d, int flags) {
  std::optional<OwnProcFile> file = own_proc_file_named(d.file);
  if (!file) return Errno{ENOENT};
  std::string text = TRY(peer::ask(d.peer_pid, peer::Query::kFile, static_cast<uint32_t>(*file),
                                   d.peer_tid, d.thread_level));
  return generated_file_fd(text, flags);
}

}  // namespace

std::optional<Result<std::string>> peer_exe(int own, const std::string& path) {
  if (path.size() < 10 || path.find("exe") == std::string::npos) return std::nullopt;
  int pid = procview::names_other_exe(own, path);
  if (pid <= 0 || !peer::others_exist()) return std::nullopt;
  // A thread's /proc/<tid>/exe is its process's.
  std::optional<peer::Peer> p = peer::find(pid);
  if (!p) {
    int tgid = peer::host_tgid(pid);
    if (tgid <= 0 || tgid == pid || !(p = peer::find(tgid))) return std::nullopt;
  }
  Result<std::string> exe = peer::ask(p->pid, peer::Query::kExe);
  if (!exe.ok()) return Result<std::string>(Errno{exe.error()});
  return Result<std::string>(std::move(*exe));
}

std::optional<Result<int>> open_own_proc_file(Process& proc, const Thread& caller,
                                              const std::string& path, int flags) {
  // Cheap test first: every name of these files has "proc/" in it.
  if (path.empty() || path[0] != '/' || path.find("proc/") == std::string::npos)
    return std::nullopt;
  // Anything but a plain read-only open goes to the host, whose answer
  // (EACCES for writing, ENOTDIR, EEXIST...) is the kernel's for these files.
  if ((flags & O_ACCMODE) != O_RDONLY ||
      (flags & (O_PATH | O_DIRECTORY | O_CREAT | O_TRUNC | __O_TMPFILE)))
    return std::nullopt;
  std::optional<OwnProcTarget> t = parse_own_proc_path(proc, caller, path);
  if (!t) return std::nullopt;
  return generated_file_fd(own_proc_content(proc, caller, *t), flags);
}

procview::ProcFacts proc_facts(Process& proc) {
  procview::ProcFacts f;
  f.own_pid = own_pid(proc);
  f.fd_floor = proc.fds.floor;
  int pid = f.own_pid;
  f.task_kind = [&proc, pid](int tid) {
    if (tid == pid) return procview::TaskKind::kGuest;
    {
      std::lock_guard lock(proc.threads_mu);
      for (const auto& t : proc.threads)
        if (t && t->tid == tid) return procview::TaskKind::kGuest;
    }
    std::string dir = "/proc/" + std::to_string(pid) + "/task/" + std::to_string(tid);
    return ::access(dir.c_str(), F_OK) == 0 ? procview::TaskKind::kHelper
                                            : procview::TaskKind::kOther;
  };
  // Other processes of the run are asked only when there are any.
  if (peer::others_exist()) {
    auto guest_tids = std::make_shared<std::map<int, std::vector<int>>>();
    f.peer_task = [guest_tids](int tid) { return peer_task_of(tid, *guest_tids); };
  }
  return f;
}

std::string host_fd_name(int fd) {
  char buf[PATH_MAX];
  std::string self = proc_fd_path(fd);
  ssize_t n = ::readlink(self.c_str(), buf, sizeof buf);
  if (n < 0 || n >= static_cast<ssize_t>(sizeof buf)) return "";
  return std::string(buf, static_cast<size_t>(n));
}

bool is_proc_object(int fd) {
  struct statfs sfs;
  return ::fstatfs(fd, &sfs) == 0 && sfs.f_type == PROC_SUPER_MAGIC;
}

namespace {

// Whether `path` from `dirfd` resolves without following a magic link
// (inside the root under --sysroot).
bool resolves_without_magic_links(const Process& proc, int dirfd, const char* path) {
  long r;
  if (proc.sysroot) {
    auto o = proc.sysroot->open2(dirfd, path, O_PATH | O_CLOEXEC, 0, RESOLVE_NO_MAGICLINKS);
    r = o ? *o : -1;
  } else {
    struct open_how how {};
    how.flags = O_PATH | O_CLOEXEC;
    how.resolve = RESOLVE_NO_MAGICLINKS;
    r = ::syscall(SYS_openat2, dirfd, path, &how, sizeof how);
  }
  if (r < 0) return false;
  ::close(static_cast<int>(r));
  return true;
}

}  // namespace

Result<int> gate_opened(Process& proc, const Thread& caller, int fd, int flags, int dirfd,
                        const char* path) {
  if (!is_proc_object(fd)) {
    // One of elfuse's own objects reached again through /proc/self/fd/N by
    // a symlink of the guest's, which the host names by the object: what a
    // closed fd's name gives. A device node or named file elfuse holds
    // (/dev/kvm, the trace file) may also be what the guest named itself.
    PrivateKind kind = private_object_kind(fd);
    if (kind == PrivateKind::kAnonymous ||
        (kind == PrivateKind::kNamed && path && !resolves_without_magic_links(proc, dirfd, path))) {
      ::close(fd);
      return Errno{ENOENT};
    }
    return fd;
  }
  procview::ProcFacts facts = proc_facts(proc);
  procview::Decision d = procview::classify_open(facts, host_fd_name(fd), flags);
  if (d.verdict == procview::Verdict::kPass) return fd;
  if (d.verdict == procview::Verdict::kRefuse) {
    ::close(fd);
    return Errno{d.err};
  }
  if (d.verdict == procview::Verdict::kOwnMem) {
    // elfuse's own memory never reaches the guest: the host's fd goes, and
    // the guest's memory is served in its place (kernel/proc_mem.h), under
    // the number the host's fd had.
    ::close(fd);
    return proc_mem_open(proc, flags);
  }
  // A generated file takes the number the host's fd had: the host's steps
  // aside (above the floor) first, so that the lowest free number is the
  // same one.
  int aside = move_to_private_fd(fd);
  if (aside < 0) return Errno{errno};
  UniqueFd held(aside);
  if (d.verdict == procview::Verdict::kAskPeer) return open_peer_file(d, flags);
  if (auto own = open_own_proc_file(proc, caller, d.own_name, flags)) return *own;
  // Not generated after all (the task went away): the host's object.
  int back = ::fcntl(aside, (::fcntl(aside, F_GETFD) & FD_CLOEXEC) ? F_DUPFD_CLOEXEC : F_DUPFD, 0);
  if (back < 0) return Errno{errno};
  return back;
}

size_t filter_proc_listing(Process& proc, int fd, char* buf, size_t len, size_t name_at) {
  if (len == 0 || !is_proc_object(fd)) return len;
  procview::ProcFacts facts = proc_facts(proc);
  procview::PeerTask peer;
  procview::Listing l = procview::listing_of(facts, host_fd_name(fd), &peer);
  if (l == procview::Listing::kNone) return len;
  size_t in = 0, out = 0;
  while (in + name_at <= len) {
    uint16_t reclen;
    memcpy(&reclen, buf + in + 16, sizeof reclen);
    if (reclen == 0 || in + reclen > len) break;
    size_t max = reclen > name_at ? reclen - name_at : 0;
    std::string name(buf + in + name_at, strnlen(buf + in + name_at, max));
    if (procview::keep_entry(facts, l, name, peer)) {
      if (out != in) memmove(buf + out, buf + in, reclen);
      out += reclen;
    }
    in += reclen;
  }
  return out;
}

bool hidden_proc_entry(Process& proc, int dirfd, const std::string& path) {
  // Cheap tests first: a task number under /proc, or a last component that
  // is a number at or above the floor.
  if (path.size() > 6 && path[0] == '/' && path.find("proc/") != std::string::npos) {
    procview::ProcFacts facts = proc_facts(proc);
    if (procview::names_helper_task(facts, path)) return true;
  }
  size_t end = path.find_last_not_of('/');
  if (end == std::string::npos) return false;
  size_t slash = path.rfind('/', end);
  size_t start = slash == std::string::npos ? 0 : slash + 1;
  std::string last = path.substr(start, end + 1 - start);
  if (last.empty() || last.size() > 9 || last.find_first_not_of("0123456789") != std::string::npos)
    return false;
  if (std::stol(last) < proc.fds.floor) return false;
  procview::ProcFacts facts = proc_facts(proc);
  if (!path.empty() && path[0] == '/' && procview::names_private_fd(facts, path)) return true;
  // The directory part as the host names it: through symlinks (/dev/fd),
  // a dirfd, or the cwd.
  std::string dir = path.substr(0, start);
  int base = dirfd;
  if (dir.empty()) dir = ".";
  UniqueFd held;
  if (proc.sysroot) {
    auto r = proc.sysroot->lookup(base, dir, true, true);
    if (!r) return false;
    held = std::move(*r);
  } else {
    held = UniqueFd(static_cast<int>(::syscall(SYS_openat, base, dir.c_str(), O_PATH | O_CLOEXEC)));
  }
  int dfd = held.get();
  if (dfd < 0) return false;
  if (!is_proc_object(dfd)) return false;
  return procview::names_private_fd(facts, host_fd_name(dfd) + "/" + last);
}

}  // namespace elfuse
