#include "fs/proc_view.h"

#include <fcntl.h>

#include <cerrno>
#include <string>
#include <vector>

#include "fs/lexical_path.h"

namespace elfuse::procview {
namespace {

// A decimal number without sign or leading zero, as /proc names tasks and
// fds; -1 otherwise.
long number_of(const std::string& s) {
  if (s.empty() || s.size() > 9 || s.find_first_not_of("0123456789") != std::string::npos ||
      (s[0] == '0' && s.size() > 1))
    return -1;
  return std::stol(s);
}

bool opens_for_writing(int flags) {
  if (flags & O_PATH) return false;
  return (flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC);
}

bool plain_read(int flags) {
  return (flags & O_ACCMODE) == O_RDONLY &&
         !(flags & (O_PATH | O_DIRECTORY | O_CREAT | O_TRUNC | __O_TMPFILE));
}

// The files fs/proc/procfs.h generates for the process itself.
bool generated_file(const std::string& file) {
  static const char* const kFiles[] = {"maps", "smaps", "smaps_rollup", "cmdline", "environ",
                                       "auxv", "stat",  "statm",        "status"};
  for (const char* f : kFiles)
    if (file == f) return true;
  return false;
}

// The files another guest process's elfuse generates for it: the same
// ones, and its limits (elfuse's host limits are not the guest's).
bool peer_generated_file(const std::string& file) {
  return generated_file(file) || file == "limits";
}

// Per-task files that describe or reach elfuse's host memory: refused for
// every task (what Linux answers a process without ptrace access to the
// target, EACCES; map_files needs CAP_SYS_ADMIN in the init namespace, EPERM).
// The process's own mem is served from guest memory instead (kOwnMem);
// another process's stays refused: its guest memory is out of reach.
int memory_refusal(const std::string& file) {
  if (file == "mem") return EACCES;
  // elfuse's host thread's registers and stack (syscall: its stack pointer
  // and arguments; stack: the host kernel's addresses) and elfuse's host
  // memory by NUMA node.
  if (file == "syscall" || file == "stack" || file == "numa_maps") return EACCES;
  if (file == "map_files") return EPERM;
  if (file == "pagemap") return EACCES;
  return 0;
}

// The host-wide entries of /proc a guest reads as the host shows them: the
// machine's description and counters, which a program reads natively
// (cpuinfo, meminfo, stat, mounts...). Anything else at the top of /proc is
// refused (EACCES), among it what reaches kernel or physical memory
// (kcore, kpage*), gives kernel addresses (kallsyms, iomem, ioports,
// modules, timer_list, vmallocinfo, slabinfo), consumes the host's log
// (kmsg), names the host's keys (keys, key-users), or is a knob (mtrr,
// sysrq-trigger); and whatever a newer kernel adds until it is listed here.
bool host_wide_readable(const std::string& top) {
  static const char* const kReadable[] = {
      "acpi",        "asound",    "buddyinfo",   "bus",     "cgroups",    "cmdline", "config.gz",
      "consoles",    "cpuinfo",   "crypto",      "devices", "diskstats",  "dma",     "driver",
      "execdomains", "fb",        "filesystems", "fs",      "interrupts", "irq",     "loadavg",
      "locks",       "mdstat",    "meminfo",     "misc",    "mounts",     "net",     "partitions",
      "pressure",    "schedstat", "scsi",        "self",    "softirqs",   "stat",    "swaps",
      "sys",         "sysvipc",   "thread-self", "tty",     "uptime",     "version", "vmstat",
      "zoneinfo"};
  for (const char* r : kReadable)
    if (top == r) return true;
  return false;
}

Decision refuse(int err) {
  Decision d;
  d.verdict = Verdict::kRefuse;
  d.err = err;
  return d;
}

// The components after "proc", or false when `name` is not under /proc.
bool proc_parts(const std::string& name, std::vector<std::string>* parts) {
  if (name.empty() || name[0] != '/') return false;
  *parts = lexical_components(name);
  if (parts->empty() || (*parts)[0] != "proc") return false;
  parts->erase(parts->begin());
  return true;
}

// /proc/<n>/... where n is a task of another guest process (`who`): its
// elfuse's threads do not exist, its fds at or above its floor are closed,
// its generated files are its elfuse's answer, nothing is written.
Decision classify_peer(const ProcFacts& f, const PeerTask& who,
                       const std::vector<std::string>& parts, int flags) {
  bool write = opens_for_writing(flags);
  if (who.helper) return refuse(ENOENT);
  size_t file_at = 1;
  int tid = who.pid;
  bool thread_level = false;
  if (parts.size() >= 3 && parts[1] == "task") {
    long t = number_of(parts[2]);
    if (t < 0) return refuse(ENOENT);
    PeerTask tt = f.peer_task(static_cast<int>(t));
    if (tt.pid != who.pid || tt.helper) return refuse(ENOENT);
    tid = static_cast<int>(t);
    thread_level = true;
    file_at = 3;
  }
  if (parts.size() <= file_at) return write ? refuse(EACCES) : Decision{};
  const std::string& file = parts[file_at];
  if (int e = memory_refusal(file)) return refuse(e);
  if (write) return refuse(EACCES);
  if ((file == "fd" || file == "fdinfo") && parts.size() > file_at + 1) {
    long n = number_of(parts[file_at + 1]);
    if (n >= who.fd_floor) return refuse(ENOENT);
  }
  if (parts.size() == file_at + 1 && peer_generated_file(file) && plain_read(flags)) {
    Decision d;
    d.verdict = Verdict::kAskPeer;
    d.peer_pid = who.pid;
    d.peer_tid = tid;
    d.thread_level = thread_level;
    d.file = file;
    return d;
  }
  return Decision{};
}

}  // namespace

bool writable_own_file(const std::string& file) {
  // fs/proc/base.c entries a process writes for itself; none of them acts
  // beyond the process (elfuse's host process is the guest's own).
  static const char* const kWritable[] = {
      "comm",       "oom_score_adj", "oom_adj",      "coredump_filter",
      "clear_refs", "timerslack_ns", "setgroups",    "uid_map",
      "gid_map",    "projid_map",    "autogroup",    "attr",
      "loginuid",   "sched",         "make-it-fail", "fail-nth"};
  for (const char* w : kWritable)
    if (file == w) return true;
  return false;
}

Decision classify_open(const ProcFacts& f, const std::string& name, int flags) {
  std::vector<std::string> parts;
  // A proc object the host does not name under /proc (another proc mount):
  // nothing here can tell whose it is.
  if (!proc_parts(name, &parts)) return refuse(EACCES);
  bool write = opens_for_writing(flags);
  if (parts.empty()) return write ? refuse(EACCES) : Decision{};
  long pid = number_of(parts[0]);
  if (pid < 0) {
    // self and thread-self are links; the host names what they lead to.
    if (!host_wide_readable(parts[0])) return refuse(EACCES);
    // /proc/sys and the other host-wide files: read as the host shows them,
    // never written (sethostname, sysctl... are refused as syscalls too).
    return write ? refuse(EACCES) : Decision{};
  }
  TaskKind kind = f.task_kind ? f.task_kind(static_cast<int>(pid)) : TaskKind::kOther;
  if (static_cast<int>(pid) == f.own_pid) kind = TaskKind::kGuest;
  if (kind == TaskKind::kOther && f.peer_task) {
    PeerTask who = f.peer_task(static_cast<int>(pid));
    if (who.pid != 0) return classify_peer(f, who, parts, flags);
  }
  // elfuse's own threads do not exist for the guest.
  if (kind == TaskKind::kHelper) return refuse(ENOENT);
  size_t file_at = 1;
  int tid = static_cast<int>(pid);
  bool thread_level = false;
  if (parts.size() >= 2 && parts[1] == "task" && parts.size() >= 3) {
    long t = number_of(parts[2]);
    if (t < 0) return refuse(ENOENT);
    if (kind == TaskKind::kGuest) {
      TaskKind tk = f.task_kind ? f.task_kind(static_cast<int>(t)) : TaskKind::kOther;
      if (static_cast<int>(t) == f.own_pid) tk = TaskKind::kGuest;
      if (tk != TaskKind::kGuest) return refuse(ENOENT);
    }
    tid = static_cast<int>(t);
    thread_level = true;
    file_at = 3;
  }
  if (parts.size() <= file_at) return write ? refuse(EACCES) : Decision{};
  const std::string& file = parts[file_at];
  // fs/proc/base.c mem_open: ptrace access to itself is always granted, so
  // the process (any of its threads, any name) opens its own mem for
  // reading and writing; the host already opened elfuse's own with the same
  // flags, so what the flags allow is settled. O_PATH stays refused: an
  // O_PATH fd of elfuse's own mem must not reach the guest.
  if (file == "mem" && kind == TaskKind::kGuest && parts.size() == file_at + 1 &&
      !(flags & O_PATH)) {
    Decision d;
    d.verdict = Verdict::kOwnMem;
    return d;
  }
  if (int e = memory_refusal(file)) return refuse(e);
  if (kind != TaskKind::kGuest) {
    // Another process (another elfuse, or a host process): never written.
    return write ? refuse(EACCES) : Decision{};
  }
  // The process itself.
  if ((file == "fd" || file == "fdinfo") && parts.size() > file_at + 1) {
    long n = number_of(parts[file_at + 1]);
    if (n >= f.fd_floor) return refuse(ENOENT);
  }
  if (parts.size() == file_at + 1 && generated_file(file) && plain_read(flags)) {
    Decision d;
    d.verdict = Verdict::kGenerate;
    d.own_name = "/proc/" + std::to_string(f.own_pid);
    // /proc/<tid>/FILE of a guest thread is its process's file; only
    // /proc/<pid>/task/<tid>/FILE is the thread's.
    if (thread_level) d.own_name += "/task/" + std::to_string(tid);
    d.own_name += "/" + file;
    return d;
  }
  // The generated files have no write operation in the kernel: opened
  // write-only (root may) the host's object can neither be read nor
  // written (EINVAL), so it is the kernel's answer as it is.
  if (write && generated_file(file) && (flags & O_ACCMODE) == O_WRONLY &&
      !(flags & (O_TRUNC | O_CREAT)))
    return Decision{};
  if (write && !writable_own_file(file)) return refuse(EACCES);
  return Decision{};
}

Listing listing_of(const ProcFacts& f, const std::string& dir_name, PeerTask* peer) {
  std::vector<std::string> parts;
  if (!proc_parts(dir_name, &parts) || parts.empty()) return Listing::kNone;
  long pid = number_of(parts[0]);
  if (pid < 0) return Listing::kNone;
  bool tasks = parts.size() == 2 && parts[1] == "task";
  bool fds =
      (parts.size() == 2 && (parts[1] == "fd" || parts[1] == "fdinfo")) ||
      (parts.size() == 4 && parts[1] == "task" && (parts[3] == "fd" || parts[3] == "fdinfo"));
  if (!tasks && !fds) return Listing::kNone;
  if (pid == f.own_pid) return tasks ? Listing::kTasks : Listing::kFds;
  if (!f.peer_task) return Listing::kNone;
  PeerTask who = f.peer_task(static_cast<int>(pid));
  if (who.pid == 0) return Listing::kNone;
  if (peer) *peer = who;
  return tasks ? Listing::kPeerTasks : Listing::kPeerFds;
}

bool keep_entry(const ProcFacts& f, Listing l, const std::string& entry, const PeerTask& peer) {
  long n = number_of(entry);
  if (n < 0) return true;  // "." and ".."
  if (l == Listing::kFds) return n < f.fd_floor;
  if (l == Listing::kTasks) {
    if (static_cast<int>(n) == f.own_pid) return true;
    return !f.task_kind || f.task_kind(static_cast<int>(n)) != TaskKind::kHelper;
  }
  if (l == Listing::kPeerFds) return n < peer.fd_floor;
  if (l == Listing::kPeerTasks) {
    if (static_cast<int>(n) == peer.pid) return true;
    PeerTask t = f.peer_task ? f.peer_task(static_cast<int>(n)) : PeerTask{};
    return t.pid == peer.pid && !t.helper;
  }
  return true;
}

bool names_private_fd(const ProcFacts& f, const std::string& path) {
  std::vector<std::string> parts;
  if (!proc_parts(path, &parts) || parts.size() < 3) return false;
  const std::string& who = parts[0];
  int floor = f.fd_floor;
  if (who != "self" && who != "thread-self" && number_of(who) != f.own_pid) {
    // Another guest process's (or one of its threads'): its floor.
    long pid = number_of(who);
    if (pid < 0 || !f.peer_task) return false;
    size_t at = parts[1] == "task" ? 3 : 1;
    if (parts.size() != at + 2 || (parts[at] != "fd" && parts[at] != "fdinfo")) return false;
    if (number_of(parts[at + 1]) < 0) return false;
    PeerTask p = f.peer_task(static_cast<int>(pid));
    if (p.pid == 0) return false;
    floor = p.fd_floor;
  }
  size_t at = 1;
  if (parts[1] == "task") {
    if (who == "thread-self" || parts.size() < 5 || number_of(parts[2]) < 0) return false;
    at = 3;
  }
  if (parts.size() != at + 2 || (parts[at] != "fd" && parts[at] != "fdinfo")) return false;
  return number_of(parts[at + 1]) >= floor;
}

bool names_helper_task(const ProcFacts& f, const std::string& path) {
  std::vector<std::string> parts;
  if (!f.task_kind || !proc_parts(path, &parts) || parts.empty()) return false;
  long tid = number_of(parts[0]);
  if (tid >= 0 && static_cast<int>(tid) != f.own_pid && f.peer_task &&
      f.task_kind(static_cast<int>(tid)) == TaskKind::kOther) {
    // Another guest process's elfuse's thread, /proc/<tid>[/...], or one
    // named under its process, /proc/<peer>/task/<tid>[/...].
    PeerTask who = f.peer_task(static_cast<int>(tid));
    if (who.pid == 0) return false;
    if (who.helper) return true;
    if (parts.size() < 3 || parts[1] != "task") return false;
    long t = number_of(parts[2]);
    if (t < 0) return false;
    PeerTask tt = f.peer_task(static_cast<int>(t));
    return tt.pid == who.pid && tt.helper;
  }
  if (tid < 0 || static_cast<int>(tid) == f.own_pid) {
    bool self = parts[0] == "self" || tid == f.own_pid;
    if (!self || parts.size() < 3 || parts[1] != "task") return false;
    tid = number_of(parts[2]);
    if (tid < 0 || static_cast<int>(tid) == f.own_pid) return false;
  }
  return f.task_kind(static_cast<int>(tid)) == TaskKind::kHelper;
}

int root_link_index(const std::string& path) {
  std::vector<std::string> parts;
  if (path.empty() || path[0] != '/' || !proc_parts(path, &parts)) return -1;
  if (parts.size() < 2) return -1;
  const std::string& who = parts[0];
  if (who != "self" && who != "thread-self" && number_of(who) < 0) return -1;
  if (parts[1] == "root") return 2;  // components: proc, X, root
  if (who != "thread-self" && parts.size() >= 4 && parts[1] == "task" && number_of(parts[2]) >= 0 &&
      parts[3] == "root")
    return 4;
  return -1;
}

bool names_own_exe(int own_pid, const std::string& path) {
  std::vector<std::string> parts;
  if (!proc_parts(path, &parts) || parts.size() < 2 || parts.back() != "exe") return false;
  if (path.back() == '/') return false;
  const std::string& who = parts[0];
  bool self = who == "self" || number_of(who) == own_pid;
  if (parts.size() == 2) return self || who == "thread-self";
  return parts.size() == 4 && self && parts[1] == "task" && number_of(parts[2]) >= 0;
}

int names_other_exe(int own_pid, const std::string& path) {
  std::vector<std::string> parts;
  if (!proc_parts(path, &parts) || parts.size() < 2 || parts.back() != "exe") return 0;
  if (path.back() == '/') return 0;
  long pid = number_of(parts[0]);
  if (pid <= 0 || static_cast<int>(pid) == own_pid) return 0;
  if (parts.size() == 2) return static_cast<int>(pid);
  if (parts.size() == 4 && parts[1] == "task" && number_of(parts[2]) >= 0)
    return static_cast<int>(pid);
  return 0;
}

}  // namespace elfuse::procview
