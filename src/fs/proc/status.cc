// /proc/<pid>/stat, statm, status and cmdline of the guest
// (fs/proc/array.c, task_mmu.c, base.c; procfs_text.h).
#include <algorithm>
#include <cstdio>
#include <iterator>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "fs/proc/procfs_text.h"

namespace elfuse::procfs_text {

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

}  // namespace elfuse::procfs_text
