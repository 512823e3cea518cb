// The guest's own /proc entries. Guest pid = host pid, so /proc/<pid> on the
// host describes elfuse itself (its mappings, its argv, its exe); for the
// files that describe a process's memory or image, elfuse generates the text
// the kernel would print for the guest and hands the guest a host memfd
// holding it. Everything else under /proc is the host's.
// docs/internals.md, "/proc", has the details and the limits.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "base/result.h"
#include "fs/proc_view.h"
#include "kernel/process.h"

namespace elfuse {

// The files elfuse generates, under /proc/self, /proc/thread-self,
// /proc/<own pid> and /proc/<own pid>/task/<own tid>.
enum class OwnProcFile {
  kMaps,
  kSmaps,
  kSmapsRollup,
  kCmdline,
  kEnviron,
  kAuxv,
  kStat,
  kStatm,
  kStatus,
  kLimits
};

// fs/proc/base.c proc_pid_limits: the table of the process's limits; soft
// and hard per resource, RLIM_INFINITY as "unlimited".
std::string limits_text(const uint64_t (&cur)[16], const uint64_t (&max)[16]);

struct OwnProcTarget {
  OwnProcFile file;
  int tid;            // the task the name designates (the pid for process-level names)
  bool thread_level;  // /proc/thread-self/X or /proc/<pid>/task/<tid>/X
};

// nullopt unless `path` (absolute, as the guest wrote it) names one of them.
std::optional<OwnProcTarget> parse_own_proc_path(const Process& proc, const Thread& caller,
                                                 const std::string& path);

// The text of the file, as the kernel prints it for the guest.
std::string own_proc_content(Process& proc, const Thread& caller, const OwnProcTarget& t);

// open(2) of a guest path: nullopt when the path is not one of the generated
// files or the open is not a plain read (those go to the host, which gives
// the same errors: EACCES for writing, ENOTDIR for O_DIRECTORY...);
// otherwise the new host fd (read-only, offset 0, close-on-exec as asked)
// or an errno.
std::optional<Result<int>> open_own_proc_file(Process& proc, const Thread& caller,
                                              const std::string& path, int flags);

// The facts src/fs/proc_view.h classifies with: the pid, the fd floor, and
// which tids are the guest's threads (the rest of the process's host threads
// are elfuse's own).
procview::ProcFacts proc_facts(Process& proc);

// The host's name of an open fd (readlink of /proc/self/fd/N), or "".
std::string host_fd_name(int fd);

// True when `fd` is a proc object (fstatfs: PROC_SUPER_MAGIC).
bool is_proc_object(int fd);

// After the host opened something for the guest (any open path): when it is
// a proc object, what the guest gets instead (procview::classify_open): the
// fd itself, a generated file in its place (the host's fd is closed), or an
// errno (closed too). One fstatfs for anything else.
// elfuse's own objects (base/private_fd.h) reached through a magic link
// (/proc/self/fd/N of elfuse's, named by a symlink of the guest's) are
// ENOENT, as a closed fd's name: an anonymous one always, a named one (a
// device node, a file) when `path` (the name opened from `dirfd`; nullptr
// for a file handle) does not resolve without magic links.
Result<int> gate_opened(Process& proc, const Thread& caller, int fd, int flags, int dirfd,
                        const char* path);

// getdents/getdents64 on `fd` filled `len` bytes at `buf` (name_at: offset
// of d_name, 19 for linux_dirent64, 18 for linux_dirent): drops the entries
// the guest must not see (elfuse's fds, elfuse's threads). Returns the new
// length.
size_t filter_proc_listing(Process& proc, int fd, char* buf, size_t len, size_t name_at);

// A guest path naming one of elfuse's own fds through /proc
// (procview::names_private_fd), also when its directory part is reached
// through a symlink (/dev/fd/N), a dirfd or the cwd inside /proc (only
// paths whose last component is a number at or above the floor cost a
// lookup), or one of elfuse's own threads (procview::names_helper_task,
// absolute paths): such names are ENOENT for open, stat, access, readlink
// and the other path calls.
bool hidden_proc_entry(Process& proc, int dirfd, const std::string& path);

// The exe link of another guest process of the run, named lexically by an
// absolute path (procview::names_other_exe; a thread's link is its
// process's): nullopt when `path` names no such link (`own`: this
// process's pid); otherwise that process's program as the guest names it
// (its elfuse answers: kernel/peer.h), or ENOENT when it is gone or
// exiting, EACCES when it cannot answer now. Never elfuse's binary.
std::optional<Result<std::string>> peer_exe(int own, const std::string& path);

}  // namespace elfuse
