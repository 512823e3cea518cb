// --trace lines, checked against what strace 5.x/6.x prints for the same
// calls on this machine (see the expected strings), with a fake guest memory.
#include <gtest/gtest.h>

#include <cerrno>
#include <map>
#include <string>

#include "syscalls/trace.h"

namespace elfuse {
namespace {

using enum ArgKind;

// Guest memory as a few byte regions; any byte outside them is EFAULT.
class FakeMemory {
 public:
  void put(uint64_t addr, const std::string& bytes) { regions_[addr] = bytes; }
  GuestReader reader() {
    return [this](uint64_t addr, uint64_t len) -> Result<std::string> {
      for (const auto& [base, bytes] : regions_) {
        if (addr >= base && addr + len <= base + bytes.size())
          return bytes.substr(addr - base, len);
      }
      return Errno{EFAULT};
    };
  }

 private:
  std::map<uint64_t, std::string> regions_;
};

class TraceTest : public ::testing::Test {
 protected:
  // One call through the real table row for `nr`.
  std::string line(uint64_t nr, std::initializer_list<uint64_t> regs, int64_t result,
                   Outcome outcome = Outcome::kReturn) {
    TraceRecord rec = trace_begin(mem.reader(), args(nr, regs));
    rec.outcome = &outcome;
    return trace_format(rec, result);
  }
  // One call through a row given here (for rows other files own).
  std::string line(const SyscallInfo& info, std::initializer_list<uint64_t> regs, int64_t result,
                   Outcome outcome = Outcome::kReturn) {
    TraceRecord rec = trace_begin(&info, mem.reader(), args(info.nr, regs));
    rec.outcome = &outcome;
    return trace_format(rec, result);
  }
  static SyscallArgs args(uint64_t nr, std::initializer_list<uint64_t> regs) {
    SyscallArgs a{};
    a.nr = nr;
    int i = 0;
    for (uint64_t r : regs) a.a[i++] = r;
    return a;
  }
  FakeMemory mem;
};

constexpr uint64_t kAtFdcwd = static_cast<uint32_t>(-100);
constexpr uint64_t kPathAddr = 0x10000;
constexpr uint64_t kBufAddr = 0x20000;

TEST_F(TraceTest, OpenatReadClose) {
  mem.put(kPathAddr, std::string("/etc/passwd\0", 12));
  EXPECT_EQ(line(257, {kAtFdcwd, kPathAddr, 02000000}, 3),
            "openat(AT_FDCWD, \"/etc/passwd\", O_RDONLY|O_CLOEXEC) = 3");

  // read's buffer is shown after the call, cut at 32 bytes.
  mem.put(kBufAddr, "root:x:0:0:root:/root:/bin/bash\nmore lines");
  EXPECT_EQ(line(0, {3, kBufAddr, 4096}, 1221),
            "read(3, \"root:x:0:0:root:/root:/bin/bash\\n\"..., 4096) = 1221");
  EXPECT_EQ(line(0, {3, kBufAddr, 4096}, 0), "read(3, \"\", 4096) = 0");
  // A failed read shows the buffer's address.
  EXPECT_EQ(line(0, {9, kBufAddr, 16}, -EBADF),
            "read(9, 0x20000, 16) = -1 EBADF (Bad file descriptor)");

  EXPECT_EQ(line(3, {1000}, -EBADF), "close(1000) = -1 EBADF (Bad file descriptor)");
}

TEST_F(TraceTest, OpenFlagsAndMode) {
  mem.put(kPathAddr, std::string("/tmp\0", 5));
  // O_TMPFILE|O_RDWR|O_SYNC|O_APPEND|O_NONBLOCK|O_DIRECT|O_ASYNC, as strace orders them.
  EXPECT_EQ(
      line(257,
           {kAtFdcwd, kPathAddr, 020200000 | 2 | 04010000 | 02000 | 04000 | 040000 | 020000, 0600},
           4),
      "openat(AT_FDCWD, \"/tmp\", "
      "O_RDWR|O_APPEND|O_NONBLOCK|O_SYNC|O_DIRECT|O_TMPFILE|FASYNC, 0600) = 4");
  // Mode only with O_CREAT; unknown bits in hex; escapes in the path.
  mem.put(kPathAddr, std::string("/nonexist\n\t\"\\x\001\0012\0", 18));
  EXPECT_EQ(
      line(2, {kPathAddr, 1 | 0100 | 0200 | 0400 | 01000 | 0400000 | 01000000 | 0x80000000, 0644},
           -ENOENT),
      "open(\"/nonexist\\n\\t\\\"\\\\x\\1\\0012\", "
      "O_WRONLY|O_CREAT|O_EXCL|O_NOCTTY|O_TRUNC|O_NOFOLLOW|O_NOATIME|0x80000000, 0644) = "
      "-1 ENOENT (No such file or directory)");
  mem.put(kPathAddr, std::string("rel\0", 4));
  EXPECT_EQ(line(257, {5, kPathAddr, 010000000 | 0200000, 0777}, -ENOTDIR),
            "openat(5, \"rel\", O_RDONLY|O_PATH|O_DIRECTORY) = -1 ENOTDIR (Not a directory)");
}

TEST_F(TraceTest, UnreadablePathAndNull) {
  EXPECT_EQ(line(257, {kAtFdcwd, 0x1234, 0}, -EFAULT),
            "openat(AT_FDCWD, 0x1234, O_RDONLY) = -1 EFAULT (Bad address)");
  EXPECT_EQ(line(257, {kAtFdcwd, 0, 0}, -EFAULT),
            "openat(AT_FDCWD, NULL, O_RDONLY) = -1 EFAULT (Bad address)");
}

TEST_F(TraceTest, WriteShowsBytesFromBeforeTheCall) {
  mem.put(kBufAddr, std::string("\0\1\2a\0033\377", 7));
  TraceRecord rec = trace_begin(mem.reader(), args(1, {1, kBufAddr, 7}));
  mem.put(kBufAddr, "changed");  // another thread rewrites the buffer
  EXPECT_EQ(trace_format(rec, 7), "write(1, \"\\0\\1\\2a\\0033\\377\", 7) = 7");

  mem.put(kBufAddr, "0123456789012345678901234567890123456789\n");
  EXPECT_EQ(line(1, {1, kBufAddr, 41}, 41),
            "write(1, \"01234567890123456789012345678901\"..., 41) = 41");
  EXPECT_EQ(line(1, {1, 0, 0}, 0), "write(1, NULL, 0) = 0");
  EXPECT_EQ(line(1, {1, 8, 3}, -EFAULT), "write(1, 0x8, 3) = -1 EFAULT (Bad address)");
}

TEST_F(TraceTest, Lseek) {
  EXPECT_EQ(line(8, {0, static_cast<uint64_t>(-5), 2}, 0), "lseek(0, -5, SEEK_END) = 0");
  EXPECT_EQ(line(8, {0, 0, 5}, -EINVAL),
            "lseek(0, 0, 0x5 /* SEEK_??? */) = -1 EINVAL (Invalid argument)");
}

TEST_F(TraceTest, StatAndAccessFlags) {
  mem.put(kPathAddr, std::string("\0", 1));
  EXPECT_EQ(line(262, {kAtFdcwd, kPathAddr, kBufAddr, 0x1000 | 0x100}, 0),
            "newfstatat(AT_FDCWD, \"\", 0x20000, AT_SYMLINK_NOFOLLOW|AT_EMPTY_PATH) = 0");
  mem.put(kPathAddr, std::string("/etc\0", 5));
  EXPECT_EQ(line(439, {kAtFdcwd, kPathAddr, 4 | 1, 0x200}, 0),
            "faccessat2(AT_FDCWD, \"/etc\", R_OK|X_OK, AT_EACCESS) = 0");
  EXPECT_EQ(line(269, {kAtFdcwd, kPathAddr, 0}, 0), "faccessat(AT_FDCWD, \"/etc\", F_OK) = 0");
  EXPECT_EQ(line(269, {kAtFdcwd, kPathAddr, 9}, -EINVAL),
            "faccessat(AT_FDCWD, \"/etc\", X_OK|0x8) = -1 EINVAL (Invalid argument)");
  mem.put(kPathAddr, std::string("/nonexist\0", 10));
  EXPECT_EQ(line(263, {kAtFdcwd, kPathAddr, 0x200}, -ENOENT),
            "unlinkat(AT_FDCWD, \"/nonexist\", AT_REMOVEDIR) = -1 ENOENT (No such file or "
            "directory)");
}

TEST_F(TraceTest, FcntlDupPipe) {
  EXPECT_EQ(line(72, {0, 3}, 0x8000), "fcntl(0, F_GETFL) = 0x8000 (flags O_RDONLY|O_LARGEFILE)");
  EXPECT_EQ(line(72, {0, 1030, 10}, 11), "fcntl(0, F_DUPFD_CLOEXEC, 10) = 11");
  EXPECT_EQ(line(72, {3, 2, 1}, 0), "fcntl(3, F_SETFD, FD_CLOEXEC) = 0");
  EXPECT_EQ(line(72, {0, 9999, static_cast<uint64_t>(-72)}, -EINVAL),
            "fcntl(0, 0x270f /* F_??? */, 0xffffffffffffffb8) = -1 EINVAL (Invalid argument)");
  EXPECT_EQ(line(292, {0, 20, 02000000}, 20), "dup3(0, 20, O_CLOEXEC) = 20");
  EXPECT_EQ(line(292, {0, 21, 0}, 21), "dup3(0, 21, 0) = 21");
  EXPECT_EQ(line(293, {kBufAddr, 02000000 | 04000}, 0), "pipe2(0x20000, O_NONBLOCK|O_CLOEXEC) = 0");
}

TEST_F(TraceTest, Ioctl) {
  EXPECT_EQ(line(16, {0, 0x5401, 0x7fffb95e5da0}, -ENOTTY),
            "ioctl(0, TCGETS, 0x7fffb95e5da0) = -1 ENOTTY (Inappropriate ioctl for device)");
  EXPECT_EQ(line(16, {1, 0x1234, 0}, -ENOTTY),
            "ioctl(1, 0x1234, 0) = -1 ENOTTY (Inappropriate ioctl for device)");
}

TEST_F(TraceTest, ModesAndStringResults) {
  EXPECT_EQ(line(95, {022}, 022), "umask(022) = 022");
  EXPECT_EQ(line(95, {0}, 022), "umask(000) = 022");
  mem.put(kPathAddr, std::string("/nonexist/x\0", 12));
  EXPECT_EQ(line(83, {kPathAddr, 0}, -ENOENT),
            "mkdir(\"/nonexist/x\", 000) = -1 ENOENT (No such file or directory)");
  mem.put(kBufAddr, std::string("/tmp\0", 5));
  EXPECT_EQ(line(79, {kBufAddr, 4096}, 5), "getcwd(\"/tmp\", 4096) = 5");
  mem.put(kPathAddr, std::string("/proc/self/exe\0", 15));
  mem.put(kBufAddr, "/tmp/ref");
  EXPECT_EQ(line(89, {kPathAddr, kBufAddr, 4096}, 8),
            "readlink(\"/proc/self/exe\", \"/tmp/ref\", 4096) = 8");
}

TEST_F(TraceTest, Clocks) {
  EXPECT_EQ(line(228, {1, kBufAddr}, 0), "clock_gettime(CLOCK_MONOTONIC, 0x20000) = 0");
  EXPECT_EQ(line(228, {static_cast<uint64_t>(-6), 0}, -EFAULT),
            "clock_gettime(0xfffffffa /* CLOCK_??? */, NULL) = -1 EFAULT (Bad address)");
}

TEST_F(TraceTest, RowsOfOtherFamilies) {
  const SyscallInfo mmap{9,
                         "mmap",
                         SyscallStatus::kFull,
                         nullptr,
                         {kPtr, kSize, kProt, kMmapFlags, kFd, kHex},
                         TraceStyle::tAddr};
  EXPECT_EQ(line(mmap, {0, 8192, 3, 0x22, static_cast<uint64_t>(-1), 0}, 0x7f892ae4f000),
            "mmap(NULL, 8192, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = "
            "0x7f892ae4f000");
  EXPECT_EQ(line(mmap, {0, 8192, 0, 0x1 | 0x10 | 0x4000 | 0x20000 | (16ull << 26), 3, 4096}, 0),
            "mmap(NULL, 8192, PROT_NONE, "
            "MAP_SHARED|MAP_FIXED|MAP_NORESERVE|MAP_STACK|16<<MAP_HUGE_SHIFT, 3, 0x1000) = 0");
  const SyscallInfo mprotect{
      10, "mprotect", SyscallStatus::kFull, nullptr, {kPtr, kSize, kProt, kNone, kNone, kNone}};
  EXPECT_EQ(line(mprotect, {0x1000, 4096, 5 | 0x100}, -EINVAL),
            "mprotect(0x1000, 4096, PROT_READ|PROT_EXEC|0x100) = -1 EINVAL (Invalid argument)");
  const SyscallInfo sigaction{13,
                              "rt_sigaction",
                              SyscallStatus::kFull,
                              nullptr,
                              {kSignal, kPtr, kPtr, kSize, kNone, kNone}};
  EXPECT_EQ(line(sigaction, {2, 0, 0, 8}, 0), "rt_sigaction(SIGINT, NULL, NULL, 8) = 0");
  EXPECT_EQ(line(sigaction, {32, 0, 0, 8}, 0), "rt_sigaction(SIGRTMIN, NULL, NULL, 8) = 0");
  EXPECT_EQ(line(sigaction, {34, 0, 0, 8}, 0), "rt_sigaction(SIGRT_2, NULL, NULL, 8) = 0");
  EXPECT_EQ(line(sigaction, {65, 0, 0, 8}, -EINVAL),
            "rt_sigaction(65, NULL, NULL, 8) = -1 EINVAL (Invalid argument)");
  const SyscallInfo arch_prctl{158,
                               "arch_prctl",
                               SyscallStatus::kFull,
                               nullptr,
                               {kArchPrctl, kHex, kNone, kNone, kNone, kNone}};
  EXPECT_EQ(line(arch_prctl, {0x1002, 0x2eccd380}, 0), "arch_prctl(ARCH_SET_FS, 0x2eccd380) = 0");
  const SyscallInfo madvise{
      28, "madvise", SyscallStatus::kFull, nullptr, {kPtr, kSize, kMadvise, kNone, kNone, kNone}};
  EXPECT_EQ(line(madvise, {0, 0, 4}, 0), "madvise(NULL, 0, MADV_DONTNEED) = 0");
  const SyscallInfo mremap{25,
                           "mremap",
                           SyscallStatus::kFull,
                           nullptr,
                           {kPtr, kSize, kSize, kMremapFlags, kPtr, kNone},
                           TraceStyle::tAddr};
  EXPECT_EQ(line(mremap, {0, 0, 0, 3, 0}, -EINVAL),
            "mremap(NULL, 0, 0, MREMAP_MAYMOVE|MREMAP_FIXED, NULL) = -1 EINVAL (Invalid "
            "argument)");
  const SyscallInfo sigprocmask{14,
                                "rt_sigprocmask",
                                SyscallStatus::kFull,
                                nullptr,
                                {kSigprocHow, kPtr, kPtr, kSize, kNone, kNone}};
  EXPECT_EQ(line(sigprocmask, {0, 0, 0, 8}, 0), "rt_sigprocmask(SIG_BLOCK, NULL, NULL, 8) = 0");
}

TEST_F(TraceTest, NoReturnAndUnknown) {
  const SyscallInfo exit_group{231,
                               "exit_group",
                               SyscallStatus::kFull,
                               nullptr,
                               {kInt, kNone, kNone, kNone, kNone, kNone},
                               TraceStyle::tExit};
  // dispatch.cc writes the line of a call that does not return before it.
  TraceRecord rec = trace_begin(&exit_group, mem.reader(), args(231, {0}));
  EXPECT_TRUE(rec.no_return);
  EXPECT_EQ(trace_format(rec, 0), "exit_group(0) = ?");
  const SyscallInfo exit_info{60,
                              "exit",
                              SyscallStatus::kFull,
                              nullptr,
                              {kInt, kNone, kNone, kNone, kNone, kNone},
                              TraceStyle::tExit};
  EXPECT_EQ(line(exit_info, {3}, 0, Outcome::kExitThread), "exit(3) = ?");
  const SyscallInfo execve{59,
                           "execve",
                           SyscallStatus::kFull,
                           nullptr,
                           {kPath, kPtr, kPtr, kNone, kNone, kNone},
                           TraceStyle::tExec};
  mem.put(kPathAddr, std::string("/bin/true\0", 10));
  EXPECT_EQ(line(execve, {kPathAddr, 0x1000, 0x2000}, 0, Outcome::kNoReturn),
            "execve(\"/bin/true\", 0x1000, 0x2000) = 0");
  EXPECT_EQ(line(0x1d6, {1, 2, 3, 4, 5, 6}, -ENOSYS),
            "syscall_0x1d6(0x1, 0x2, 0x3, 0x4, 0x5, 0x6) = -1 ENOSYS (Function not "
            "implemented)");
}

TEST(TraceQuote, Escapes) {
  EXPECT_EQ(trace_quote("a\"b\\c\r\v\f", false), "\"a\\\"b\\\\c\\r\\v\\f\"");
  EXPECT_EQ(trace_quote(std::string("\0"
                                    "7",
                                    2),
                        false),
            "\"\\0007\"");
  EXPECT_EQ(trace_quote(std::string("\0"
                                    "8",
                                    2),
                        false),
            "\"\\08\"");
  EXPECT_EQ(trace_quote("\x7f\x80", true), "\"\\177\\200\"...");
}

}  // namespace
}  // namespace elfuse
