// What the guest gets of a /proc object. Guest pid = host pid, so the host's
// /proc/<pid> describes elfuse: its memory (mem), its threads (the exitless
// workers), its descriptors (at or above the fd floor) and, for writes, the
// host's own knobs (/proc/sys). Lexical checks of the guest's path cannot
// see symlinks, dirfds on /proc/self or a cwd inside /proc, so the check is
// made on the OBJECT the host opened: when fstatfs says it is a proc file,
// the host's name for it (readlink of /proc/self/fd/N, e.g.
// /proc/1234/task/1235/mem) is classified here. Pure: the facts about the
// process come in as ProcFacts. docs/internals.md, "/proc".
#pragma once

#include <functional>
#include <string>

namespace elfuse::procview {

// What kind of task a number under /proc is, seen from this process.
enum class TaskKind {
  kGuest,   // the process itself or one of its guest threads
  kHelper,  // a host thread of this elfuse process that runs no guest thread
  kOther,   // anything else (another process, or no task at all)
};

// A task of another guest process of the same run (another elfuse
// process, src/kernel/peer.h): its process, and whether it runs one of
// that process's guest threads or is one of that elfuse's own threads.
struct PeerTask {
  int pid = 0;          // its process; 0: no task of another guest process
  bool helper = false;  // a host thread of that elfuse that runs no guest thread
  int fd_floor = 1024;  // that process's fd floor
};

struct ProcFacts {
  int own_pid = 0;
  int fd_floor = 1024;
  std::function<TaskKind(int)> task_kind;
  // For a number task_kind calls kOther: another guest process's task, or
  // PeerTask{} (a host process, or nothing). Unset: no other guest process.
  std::function<PeerTask(int)> peer_task;
};

enum class Verdict {
  kPass,      // the host's object is what Linux gives
  kGenerate,  // one of the files elfuse generates (fs/proc/procfs.h)
  kOwnMem,    // the process's own mem file, served by kernel/proc_mem.h
  kRefuse,    // fail the open with `err`
  kAskPeer,   // a generated file of another guest process: its elfuse answers
};

struct Decision {
  Verdict verdict = Verdict::kPass;
  int err = 0;
  // kGenerate: the name to generate from, /proc/<own pid>[/task/<tid>]/FILE
  // (a guest thread's /proc/<tid>/FILE is its process's file).
  std::string own_name;
  // kAskPeer: the other process, the task the name designates (peer_pid
  // for a process-level name; a thread's /proc/<tid>/FILE is its
  // process's) and the file (generated_file, or limits).
  int peer_pid = 0;
  int peer_tid = 0;
  bool thread_level = false;
  std::string file;
};

// `name`: the host's name of an opened proc object ("/proc", "/proc/1234",
// "/proc/1234/task/1235/mem", "/proc/sys/kernel/hostname"...).
// `flags`: the open(2) flags the guest asked for.
Decision classify_open(const ProcFacts& f, const std::string& name, int flags);

// True when the guest may write this object (opened for writing): the
// process's own knobs (comm, oom_score_adj...); false for /proc/sys and
// every other host-wide or foreign file. Part of classify_open.
bool writable_own_file(const std::string& file);

// A directory whose listing getdents filters, by the host's name of the
// directory: kFds for /proc/<own>/fd, fdinfo and task/<tid>/fd, fdinfo
// (entries at or above the floor go), kTasks for /proc/<own>/task (helper
// threads go), kNone otherwise. kPeerFds and kPeerTasks: the same
// directories of another guest process (*peer is set to its facts), whose
// entries at or above its floor, and whose elfuse's threads, go.
enum class Listing { kNone, kFds, kTasks, kPeerFds, kPeerTasks };
Listing listing_of(const ProcFacts& f, const std::string& dir_name, PeerTask* peer = nullptr);

// Whether a listing keeps entry `entry` (a d_name). `peer`: for kPeerFds
// and kPeerTasks, what listing_of said.
bool keep_entry(const ProcFacts& f, Listing l, const std::string& entry,
                const PeerTask& peer = PeerTask{});

// An absolute path taken lexically (symlinks not followed): true when it
// names an fd entry of the process at or above the floor,
// /proc/{self,thread-self,<own pid>}[/task/<tid>]/{fd,fdinfo}/N, N >= floor,
// or of another guest process at or above its floor, /proc/<peer>[/task/
// <tid>]/{fd,fdinfo}/N. Open, readlink and stat of those are ENOENT, as for
// a closed fd.
bool names_private_fd(const ProcFacts& f, const std::string& path);

// An absolute path taken lexically: true when it names a task of elfuse's
// own (TaskKind::kHelper) or something below it: /proc/<tid>[/...] or
// /proc/{self,<own pid>}/task/<tid>[/...]; or one of another guest
// process's elfuse's threads (PeerTask::helper), /proc/<tid>[/...] or
// /proc/<peer>/task/<tid>[/...]. Those are ENOENT for every call.
bool names_helper_task(const ProcFacts& f, const std::string& path);

// Under --sysroot: an absolute path whose `root` component is a task's root
// link, /proc/<X>/root or /proc/<X>/task/<Y>/root (X self, thread-self or a
// number): returns the index of the `root` component in the lexical
// components, or -1.
int root_link_index(const std::string& path);

// An absolute path taken lexically: true when it names the exe link of the
// process or of one of its tasks, /proc/{self,thread-self,<own pid>}/exe or
// /proc/{self,<own pid>}/task/<tid>/exe (whose target must be the guest
// program, never elfuse).
bool names_own_exe(int own_pid, const std::string& path);

// An absolute path taken lexically: the number X when it names the exe link
// of a task that is not the process's own, /proc/X/exe or
// /proc/X/task/<tid>/exe with X a number other than own_pid; 0 otherwise.
// (Whether X is another guest process is the caller's question.)
int names_other_exe(int own_pid, const std::string& path);

}  // namespace elfuse::procview
