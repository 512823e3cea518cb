#include "fs/proc/procfs.h"

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
#include "fs/proc/procfs_text.h"
#include "fs/sysroot.h"
#include "kernel/peer.h"
#include "kernel/proc_mem.h"

namespace elfuse {
namespace procfs_text {

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

}  // namespace procfs_text

using namespace procfs_text;

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

Result<std::string> peer::answer_file(Process& proc, uint32_t file, int tid, bool thread_level) {
  int pid = proc.pid;
  if (file > static_cast<uint32_t>(OwnProcFile::kLimits)) return Errno{EINVAL};
  if (thread_level && tid != pid) {
    std::lock_guard lock(proc.threads_mu);
    bool found = std::any_of(proc.threads.begin(), proc.threads.end(),
                             [&](const auto& t) { return t && t->tid == tid; });
    if (!found) return Errno{ENOENT};
  }
  static Thread nobody;  // no guest thread is asking here
  OwnProcTarget t{static_cast<OwnProcFile>(file), thread_level ? tid : pid, thread_level};
  return own_proc_content(proc, nobody, t);
}

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
