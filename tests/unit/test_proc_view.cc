// src/fs/proc_view.h: what the guest gets of a /proc object, by the host's
// name of it. Process 100 with guest threads 100 and 101; 102 is one of
// elfuse's own threads; 200 is another process. The fd floor is 1000.
#include <fcntl.h>
#include <gtest/gtest.h>

#include <cerrno>

#include "fs/proc_view.h"

namespace elfuse::procview {
namespace {

ProcFacts facts() {
  ProcFacts f;
  f.own_pid = 100;
  f.fd_floor = 1000;
  f.task_kind = [](int tid) {
    if (tid == 100 || tid == 101) return TaskKind::kGuest;
    if (tid == 102) return TaskKind::kHelper;
    return TaskKind::kOther;
  };
  return f;
}

Decision open_as(const std::string& name, int flags = O_RDONLY) {
  return classify_open(facts(), name, flags);
}

void expect_refused(const std::string& name, int flags, int err) {
  Decision d = open_as(name, flags);
  EXPECT_EQ(d.verdict, Verdict::kRefuse) << name;
  EXPECT_EQ(d.err, err) << name;
}

TEST(ProcView, OwnMemIsServedOtherMemRefused) {
  // The process's own mem, by any of its tasks' names, for any access mode.
  for (const char* n :
       {"/proc/100/mem", "/proc/100/task/100/mem", "/proc/100/task/101/mem", "/proc/101/mem"}) {
    EXPECT_EQ(open_as(n, O_RDONLY).verdict, Verdict::kOwnMem) << n;
    EXPECT_EQ(open_as(n, O_RDWR).verdict, Verdict::kOwnMem) << n;
    EXPECT_EQ(open_as(n, O_WRONLY | O_CLOEXEC).verdict, Verdict::kOwnMem) << n;
    expect_refused(n, O_PATH, EACCES);
  }
  // Another process's, and elfuse's own threads'.
  for (const char* n : {"/proc/200/mem", "/proc/200/task/201/mem"}) {
    expect_refused(n, O_RDONLY, EACCES);
    expect_refused(n, O_RDWR, EACCES);
  }
  expect_refused("/proc/102/mem", O_RDONLY, ENOENT);
  expect_refused("/proc/100/task/102/mem", O_RDONLY, ENOENT);
  // Not the file itself.
  expect_refused("/proc/100/mem/x", O_RDONLY, EACCES);
  expect_refused("/proc/100/map_files", O_RDONLY | O_DIRECTORY, EPERM);
  expect_refused("/proc/100/pagemap", O_RDONLY, EACCES);
  expect_refused("/proc/kcore", O_RDONLY, EACCES);
}

// The top of /proc is an allowlist: what describes the machine is read as
// the host shows it, the rest (kernel addresses, the host's log and keys,
// knobs, entries a newer kernel adds) is refused.
TEST(ProcView, HostWideReadsAreAnAllowlist) {
  for (const char* n : {"/proc/kallsyms", "/proc/kmsg", "/proc/iomem", "/proc/ioports",
                        "/proc/modules", "/proc/timer_list", "/proc/vmallocinfo", "/proc/keys",
                        "/proc/slabinfo", "/proc/kpageflags", "/proc/some_new_file"})
    expect_refused(n, O_RDONLY, EACCES);
  for (const char* n : {"/proc/uptime", "/proc/loadavg", "/proc/stat", "/proc/version",
                        "/proc/filesystems", "/proc/sys/kernel/ostype", "/proc/cgroups"})
    EXPECT_EQ(open_as(n).verdict, Verdict::kPass) << n;
}

// Per-task files that show elfuse's host thread or host memory.
TEST(ProcView, HostTaskStateIsRefused) {
  for (const char* f : {"syscall", "stack", "numa_maps"}) {
    expect_refused(std::string("/proc/100/") + f, O_RDONLY, EACCES);
    expect_refused(std::string("/proc/100/task/101/") + f, O_RDONLY, EACCES);
  }
}

TEST(ProcView, HostWideWritesAreRefused) {
  expect_refused("/proc/sys/kernel/hostname", O_WRONLY, EACCES);
  expect_refused("/proc/sys/kernel/hostname", O_RDWR, EACCES);
  expect_refused("/proc/sys/vm/drop_caches", O_WRONLY | O_TRUNC, EACCES);
  expect_refused("/proc/sysrq-trigger", O_WRONLY, EACCES);
  expect_refused("/proc/200/oom_score_adj", O_WRONLY, EACCES);
  EXPECT_EQ(open_as("/proc/sys/kernel/hostname").verdict, Verdict::kPass);
  EXPECT_EQ(open_as("/proc/cpuinfo").verdict, Verdict::kPass);
  EXPECT_EQ(open_as("/proc/meminfo").verdict, Verdict::kPass);
  EXPECT_EQ(open_as("/proc", O_RDONLY | O_DIRECTORY).verdict, Verdict::kPass);
  // O_PATH is not a write.
  EXPECT_EQ(open_as("/proc/sys/kernel/hostname", O_PATH | O_WRONLY).verdict, Verdict::kPass);
}

TEST(ProcView, OwnKnobsStayWritable) {
  EXPECT_EQ(open_as("/proc/100/comm", O_WRONLY).verdict, Verdict::kPass);
  EXPECT_EQ(open_as("/proc/100/task/101/comm", O_RDWR).verdict, Verdict::kPass);
  EXPECT_EQ(open_as("/proc/100/oom_score_adj", O_WRONLY).verdict, Verdict::kPass);
  EXPECT_EQ(open_as("/proc/100/attr/current", O_WRONLY).verdict, Verdict::kPass);
  expect_refused("/proc/100/limits", O_WRONLY, EACCES);
  expect_refused("/proc/100/task/101/environ", O_RDWR, EACCES);
}

// A generated file opened write-only is the host's object: it has no write
// operation and a write-only fd reads nothing (root's open succeeds
// natively).
TEST(ProcView, GeneratedFilesOpenWriteOnly) {
  EXPECT_EQ(open_as("/proc/100/maps", O_WRONLY).verdict, Verdict::kPass);
  EXPECT_EQ(open_as("/proc/100/task/101/environ", O_WRONLY).verdict, Verdict::kPass);
  expect_refused("/proc/100/maps", O_WRONLY | O_TRUNC, EACCES);
  expect_refused("/proc/100/maps", O_RDWR, EACCES);
}

TEST(ProcView, GeneratedFilesHaveTheProcessName) {
  Decision d = open_as("/proc/100/maps");
  EXPECT_EQ(d.verdict, Verdict::kGenerate);
  EXPECT_EQ(d.own_name, "/proc/100/maps");
  d = open_as("/proc/101/status");  // a guest thread's top-level name
  EXPECT_EQ(d.verdict, Verdict::kGenerate);
  EXPECT_EQ(d.own_name, "/proc/100/status");
  d = open_as("/proc/100/task/101/stat");
  EXPECT_EQ(d.verdict, Verdict::kGenerate);
  EXPECT_EQ(d.own_name, "/proc/100/task/101/stat");
  // Not a plain read: the host answers.
  EXPECT_EQ(open_as("/proc/100/maps", O_PATH).verdict, Verdict::kPass);
  // Another process: its host file.
  EXPECT_EQ(open_as("/proc/200/maps").verdict, Verdict::kPass);
}

TEST(ProcView, ElfusesThreadsAndFdsDoNotExist) {
  expect_refused("/proc/102/status", O_RDONLY, ENOENT);
  expect_refused("/proc/102", O_RDONLY | O_DIRECTORY, ENOENT);
  expect_refused("/proc/100/task/102", O_RDONLY | O_DIRECTORY, ENOENT);
  expect_refused("/proc/100/task/102/comm", O_RDONLY, ENOENT);
  expect_refused("/proc/100/fdinfo/1000", O_RDONLY, ENOENT);
  expect_refused("/proc/100/fd/1003", O_PATH | O_NOFOLLOW, ENOENT);
  expect_refused("/proc/100/task/101/fdinfo/1001", O_RDONLY, ENOENT);
  EXPECT_EQ(open_as("/proc/100/fdinfo/999").verdict, Verdict::kPass);
  EXPECT_EQ(open_as("/proc/100/task/101", O_RDONLY | O_DIRECTORY).verdict, Verdict::kPass);
}

TEST(ProcView, NotUnderProcIsRefused) {
  expect_refused("/mnt/proc2/100/mem", O_RDONLY, EACCES);
  expect_refused("", O_RDONLY, EACCES);
}

TEST(ProcView, Listings) {
  ProcFacts f = facts();
  EXPECT_EQ(listing_of(f, "/proc/100/fd"), Listing::kFds);
  EXPECT_EQ(listing_of(f, "/proc/100/fdinfo"), Listing::kFds);
  EXPECT_EQ(listing_of(f, "/proc/100/task/101/fd"), Listing::kFds);
  EXPECT_EQ(listing_of(f, "/proc/100/task"), Listing::kTasks);
  EXPECT_EQ(listing_of(f, "/proc/200/fd"), Listing::kNone);
  EXPECT_EQ(listing_of(f, "/proc"), Listing::kNone);
  EXPECT_TRUE(keep_entry(f, Listing::kFds, "."));
  EXPECT_TRUE(keep_entry(f, Listing::kFds, "999"));
  EXPECT_FALSE(keep_entry(f, Listing::kFds, "1000"));
  EXPECT_TRUE(keep_entry(f, Listing::kTasks, "100"));
  EXPECT_TRUE(keep_entry(f, Listing::kTasks, "101"));
  EXPECT_FALSE(keep_entry(f, Listing::kTasks, "102"));
}

TEST(ProcView, PrivateFdNames) {
  ProcFacts f = facts();
  EXPECT_TRUE(names_private_fd(f, "/proc/self/fd/1000"));
  EXPECT_TRUE(names_private_fd(f, "/proc/thread-self/fdinfo/1002"));
  EXPECT_TRUE(names_private_fd(f, "/proc/100/task/101/fd/1234"));
  EXPECT_TRUE(names_private_fd(f, "//proc/./self/../self/fd/1000"));
  EXPECT_FALSE(names_private_fd(f, "/proc/self/fd/999"));
  EXPECT_FALSE(names_private_fd(f, "/proc/200/fd/1000"));
  EXPECT_FALSE(names_private_fd(f, "/proc/self/fd/1000/x"));
  EXPECT_FALSE(names_private_fd(f, "/tmp/fd/1000"));
}

TEST(ProcView, HelperTaskNames) {
  ProcFacts f = facts();
  EXPECT_TRUE(names_helper_task(f, "/proc/102"));
  EXPECT_TRUE(names_helper_task(f, "/proc/102/status"));
  EXPECT_TRUE(names_helper_task(f, "/proc/self/task/102"));
  EXPECT_TRUE(names_helper_task(f, "/proc/100/task/102/comm"));
  EXPECT_FALSE(names_helper_task(f, "/proc/101/status"));
  EXPECT_FALSE(names_helper_task(f, "/proc/100/task/101"));
  EXPECT_FALSE(names_helper_task(f, "/proc/200"));
  EXPECT_FALSE(names_helper_task(f, "/proc/self/status"));
  EXPECT_FALSE(names_helper_task(f, "/proc/cpuinfo"));
}

TEST(ProcView, RootLinks) {
  EXPECT_EQ(root_link_index("/proc/self/root"), 2);
  EXPECT_EQ(root_link_index("/proc/thread-self/root/etc"), 2);
  EXPECT_EQ(root_link_index("/proc/123/root/"), 2);
  EXPECT_EQ(root_link_index("/proc/self/task/5/root/bin"), 4);
  EXPECT_EQ(root_link_index("/proc/7/task/8/root"), 4);
  EXPECT_EQ(root_link_index("/proc/self/cwd"), -1);
  EXPECT_EQ(root_link_index("/proc/sys/root"), -1);
  EXPECT_EQ(root_link_index("/tmp/self/root"), -1);
}

TEST(ProcView, OwnExe) {
  EXPECT_TRUE(names_own_exe(100, "/proc/self/exe"));
  EXPECT_TRUE(names_own_exe(100, "/proc/thread-self/exe"));
  EXPECT_TRUE(names_own_exe(100, "/proc/100/exe"));
  EXPECT_TRUE(names_own_exe(100, "/proc/self/task/101/exe"));
  EXPECT_TRUE(names_own_exe(100, "/proc/100/task/100/exe"));
  EXPECT_FALSE(names_own_exe(100, "/proc/200/exe"));
  EXPECT_FALSE(names_own_exe(100, "/proc/self/exe/"));
  EXPECT_FALSE(names_own_exe(100, "/proc/self/cwd"));
  EXPECT_FALSE(names_own_exe(100, "proc/self/exe"));
}

// Another guest process of the run: 300, with guest threads 300 and 301;
// 302 is one of its elfuse's threads; its fd floor is 900. 200 stays a
// host process.
ProcFacts facts_with_peer() {
  ProcFacts f = facts();
  f.peer_task = [](int tid) {
    if (tid == 300 || tid == 301) return PeerTask{300, false, 900};
    if (tid == 302) return PeerTask{300, true, 900};
    return PeerTask{};
  };
  return f;
}

Decision peer_open(const std::string& name, int flags = O_RDONLY) {
  return classify_open(facts_with_peer(), name, flags);
}

TEST(ProcView, PeerGeneratedFilesAreAskedOf) {
  for (const char* f : {"maps", "smaps", "smaps_rollup", "cmdline", "environ", "auxv", "stat",
                        "statm", "status", "limits"}) {
    Decision d = peer_open(std::string("/proc/300/") + f);
    EXPECT_EQ(d.verdict, Verdict::kAskPeer) << f;
    EXPECT_EQ(d.peer_pid, 300);
    EXPECT_EQ(d.peer_tid, 300);
    EXPECT_FALSE(d.thread_level);
    EXPECT_EQ(d.file, f);
  }
  // A guest thread's top-level name is its process's file.
  Decision d = peer_open("/proc/301/status");
  EXPECT_EQ(d.verdict, Verdict::kAskPeer);
  EXPECT_EQ(d.peer_pid, 300);
  EXPECT_EQ(d.peer_tid, 300);
  EXPECT_FALSE(d.thread_level);
  d = peer_open("/proc/300/task/301/stat");
  EXPECT_EQ(d.verdict, Verdict::kAskPeer);
  EXPECT_EQ(d.peer_tid, 301);
  EXPECT_TRUE(d.thread_level);
  // Not a plain read: the host answers (a directory, O_PATH).
  EXPECT_EQ(peer_open("/proc/300/maps", O_PATH).verdict, Verdict::kPass);
  EXPECT_EQ(peer_open("/proc/300/fd", O_RDONLY | O_DIRECTORY).verdict, Verdict::kPass);
  // A host process keeps the host's view.
  EXPECT_EQ(peer_open("/proc/200/maps").verdict, Verdict::kPass);
  EXPECT_EQ(peer_open("/proc/200/cmdline").verdict, Verdict::kPass);
}

TEST(ProcView, PeerHelpersAndPrivateFdsDoNotExist) {
  for (const char* n :
       {"/proc/302", "/proc/302/status", "/proc/300/task/302", "/proc/300/task/302/stat",
        "/proc/301/task/302/comm", "/proc/300/fd/900", "/proc/300/fdinfo/901",
        "/proc/300/task/301/fd/1000", "/proc/300/task/7/stat"}) {
    Decision d = peer_open(n);
    EXPECT_EQ(d.verdict, Verdict::kRefuse) << n;
    EXPECT_EQ(d.err, ENOENT) << n;
  }
  EXPECT_EQ(peer_open("/proc/300/fd/899").verdict, Verdict::kPass);
  EXPECT_EQ(peer_open("/proc/300/task/301/fdinfo/3").verdict, Verdict::kPass);
  // Without the peer facts the same number is a host process's.
  EXPECT_EQ(open_as("/proc/300/fd/900").verdict, Verdict::kPass);
}

TEST(ProcView, PeerIsNeverWrittenNorItsMemoryRead) {
  expect_refused("/proc/200/comm", O_WRONLY, EACCES);
  for (const char* n : {"/proc/300/comm", "/proc/300/oom_score_adj", "/proc/301/attr/current",
                        "/proc/300/task/301/comm"}) {
    Decision d = peer_open(n, O_WRONLY);
    EXPECT_EQ(d.verdict, Verdict::kRefuse) << n;
    EXPECT_EQ(d.err, EACCES) << n;
  }
  Decision d = peer_open("/proc/300/mem");
  EXPECT_EQ(d.verdict, Verdict::kRefuse);
  EXPECT_EQ(d.err, EACCES);
  d = peer_open("/proc/300/task/301/pagemap");
  EXPECT_EQ(d.err, EACCES);
  d = peer_open("/proc/300/map_files", O_RDONLY | O_DIRECTORY);
  EXPECT_EQ(d.err, EPERM);
}

TEST(ProcView, PeerListings) {
  ProcFacts f = facts_with_peer();
  PeerTask p;
  EXPECT_EQ(listing_of(f, "/proc/300/task", &p), Listing::kPeerTasks);
  EXPECT_EQ(p.pid, 300);
  EXPECT_TRUE(keep_entry(f, Listing::kPeerTasks, "300", p));
  EXPECT_TRUE(keep_entry(f, Listing::kPeerTasks, "301", p));
  EXPECT_FALSE(keep_entry(f, Listing::kPeerTasks, "302", p));
  EXPECT_FALSE(keep_entry(f, Listing::kPeerTasks, "101", p));  // not its task
  EXPECT_TRUE(keep_entry(f, Listing::kPeerTasks, "..", p));
  p = PeerTask{};
  EXPECT_EQ(listing_of(f, "/proc/301/fd", &p), Listing::kPeerFds);
  EXPECT_EQ(p.fd_floor, 900);
  EXPECT_EQ(listing_of(f, "/proc/300/task/301/fdinfo", &p), Listing::kPeerFds);
  EXPECT_TRUE(keep_entry(f, Listing::kPeerFds, "899", p));
  EXPECT_FALSE(keep_entry(f, Listing::kPeerFds, "900", p));
  EXPECT_EQ(listing_of(f, "/proc/200/fd"), Listing::kNone);
  EXPECT_EQ(listing_of(f, "/proc/300"), Listing::kNone);
  // The process's own listings are unchanged.
  EXPECT_EQ(listing_of(f, "/proc/100/fd"), Listing::kFds);
  EXPECT_EQ(listing_of(f, "/proc/100/task"), Listing::kTasks);
}

TEST(ProcView, PeerNamesForPathCalls) {
  ProcFacts f = facts_with_peer();
  EXPECT_TRUE(names_private_fd(f, "/proc/300/fd/900"));
  EXPECT_TRUE(names_private_fd(f, "/proc/301/fdinfo/1200"));
  EXPECT_TRUE(names_private_fd(f, "/proc/300/task/301/fd/950"));
  EXPECT_FALSE(names_private_fd(f, "/proc/300/fd/899"));
  EXPECT_FALSE(names_private_fd(f, "/proc/200/fd/5000"));
  EXPECT_TRUE(names_helper_task(f, "/proc/302"));
  EXPECT_TRUE(names_helper_task(f, "/proc/302/status"));
  EXPECT_TRUE(names_helper_task(f, "/proc/300/task/302"));
  EXPECT_TRUE(names_helper_task(f, "/proc/301/task/302/stat"));
  EXPECT_FALSE(names_helper_task(f, "/proc/300/task/301"));
  EXPECT_FALSE(names_helper_task(f, "/proc/301"));
  EXPECT_FALSE(names_helper_task(f, "/proc/200/task/201"));
}

TEST(ProcView, OtherExe) {
  EXPECT_EQ(names_other_exe(100, "/proc/300/exe"), 300);
  EXPECT_EQ(names_other_exe(100, "/proc/301/task/301/exe"), 301);
  EXPECT_EQ(names_other_exe(100, "/proc//300/./exe"), 300);
  EXPECT_EQ(names_other_exe(100, "/proc/100/exe"), 0);
  EXPECT_EQ(names_other_exe(100, "/proc/self/exe"), 0);
  EXPECT_EQ(names_other_exe(100, "/proc/300/exe/"), 0);
  EXPECT_EQ(names_other_exe(100, "/proc/300/cwd"), 0);
  EXPECT_EQ(names_other_exe(100, "/proc/300/task/exe"), 0);
}

}  // namespace
}  // namespace elfuse::procview
