// File-system and info syscall handlers against a real MemoryManager over a
// host reservation (no VM): guest buffers, the fd floor rules, the virtual
// RLIMIT_NOFILE and /proc/self/exe.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/close_range.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cstring>
#include <memory>
#include <string>

#include "kernel/process.h"
#include "mm/layout.h"
#include "mm/memory_manager.h"
#include "syscalls/table.h"

namespace elfuse {
namespace {

constexpr uint64_t kTaskSize = (1ull << 47) - 4096;
constexpr uint64_t kPhys = 64ull << 20;
constexpr uint64_t kTables = 4ull << 20;
constexpr uint64_t kData = 0x10000000;          // guest RW region, 1 MiB
constexpr uint64_t kData2 = kData + (1 << 20);  // adjacent RWX region (a second VMA)
constexpr uint64_t kUnmapped = 0x20000000;
constexpr int kFloor = 200;

class NoShadow : public ShadowSync {
 public:
  void narrowed(uint64_t, uint64_t) override {}
  void freed(uint64_t, uint64_t) override {}
};

class SysFsTest : public testing::Test {
 protected:
  void SetUp() override {
    void* p = ::mmap(nullptr, kPhys, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    ASSERT_NE(p, MAP_FAILED);
    reservation_ = static_cast<uint8_t*>(p);
    LayoutInputs li{kTaskSize, false, 8ull << 20, 65536, [] { return uint64_t{0}; }};
    proc_ = std::make_unique<Process>(reservation_, kPhys);
    proc_->memory = std::make_unique<MemoryManager>(
        reservation_, kPhys, PhysAllocator(kPhys, 0, kTables, kTables), &shadow_, make_layout(li));
    MemoryManager& m = *proc_->memory;
    ASSERT_TRUE(m.map_fixed_anon(kData, 1 << 20, PROT_READ | PROT_WRITE, "").ok());
    ASSERT_TRUE(m.map_fixed_anon(kData2, 1 << 20, PROT_READ | PROT_WRITE | PROT_EXEC, "").ok());
    proc_->pid = ::getpid();
    proc_->fds.floor = kFloor;
    proc_->fds.nofile_soft = kFloor;
    proc_->fds.nofile_hard = kFloor;
    proc_->exe_path = "/guest/bin/prog";
    ctx_ = std::make_unique<SyscallContext>(SyscallContext{*proc_, thread_, proc_->mm()});
    char tmpl[] = "/tmp/elfuse_sysfs_XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    std::string cmd = "rm -rf " + dir_;
    ASSERT_EQ(::system(cmd.c_str()), 0);
    ctx_.reset();
    proc_.reset();
    ::munmap(reservation_, kPhys);
  }

  int64_t call(uint64_t nr, std::initializer_list<uint64_t> regs) {
    SyscallArgs a{};
    a.nr = nr;
    int i = 0;
    for (uint64_t r : regs) a.a[i++] = r;
    const SyscallInfo* info = syscall_info(nr);
    EXPECT_TRUE(info && info->handler) << nr;
    if (!info || !info->handler) return -ENOSYS;
    return info->handler(*ctx_, a);
  }
  MemoryManager& mm() { return proc_->mm(); }
  // A guest string at addr.
  uint64_t put(uint64_t addr, const std::string& s) {
    EXPECT_TRUE(mm().copy_out(addr, s.c_str(), s.size() + 1).ok());
    return addr;
  }
  std::string get(uint64_t addr, size_t len) {
    std::string s(len, '\0');
    EXPECT_TRUE(mm().copy_in(s.data(), addr, len).ok());
    return s;
  }
  // Lowest free host fd.
  static int lowest_free_fd() {
    int fd = ::dup(0);
    ::close(fd);
    return fd;
  }

  NoShadow shadow_;
  uint8_t* reservation_ = nullptr;
  std::unique_ptr<Process> proc_;
  Thread thread_;
  std::unique_ptr<SyscallContext> ctx_;
  std::string dir_;
};

constexpr uint64_t kAtFdcwd = static_cast<uint32_t>(-100);

TEST_F(SysFsTest, OpenWriteReadAcrossVmas) {
  uint64_t path = put(kData, dir_ + "/f");
  int64_t fd = call(SYS_openat, {kAtFdcwd, path, O_RDWR | O_CREAT | O_CLOEXEC, 0600});
  ASSERT_GE(fd, 0);
  ASSERT_LT(fd, kFloor);
  // 64 bytes straddling the edge between the two VMAs: two host ranges.
  uint64_t buf = kData2 - 32;
  std::string data = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!?";
  ASSERT_TRUE(mm().copy_out(buf, data.data(), 64).ok());
  EXPECT_EQ(call(SYS_write, {uint64_t(fd), buf, 64}), 64);
  EXPECT_EQ(call(SYS_lseek, {uint64_t(fd), 0, SEEK_SET}), 0);
  uint64_t out = kData + 0x1000 - 10;
  EXPECT_EQ(call(SYS_read, {uint64_t(fd), kData2 - 5, 64}), 64);
  EXPECT_EQ(get(kData2 - 5, 64), data);
  EXPECT_EQ(call(SYS_pread64, {uint64_t(fd), out, 10, 54}), 10);
  EXPECT_EQ(get(out, 10), data.substr(54, 10));

  // stat fills the guest struct.
  struct stat st {};
  EXPECT_EQ(call(SYS_fstat, {uint64_t(fd), kData + 0x2000}), 0);
  ASSERT_TRUE(mm().copy_in(&st, kData + 0x2000, sizeof(st)).ok());
  EXPECT_EQ(st.st_size, 64);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(call(SYS_newfstatat, {kAtFdcwd, path, kData + 0x2000, 0}), 0);

  EXPECT_EQ(call(SYS_close, {uint64_t(fd)}), 0);
  EXPECT_EQ(call(SYS_close, {uint64_t(fd)}), -EBADF);
}

TEST_F(SysFsTest, BadBuffersAndErrorOrder) {
  uint64_t path = put(kData, dir_ + "/g");
  int64_t fd = call(SYS_open, {path, O_RDWR | O_CREAT, 0600});
  ASSERT_GE(fd, 0);
  EXPECT_EQ(call(SYS_write, {uint64_t(fd), kUnmapped, 10}), -EFAULT);
  // A buffer that runs off the mapping moves the bytes before the fault.
  ASSERT_EQ(::pwrite(int(fd), "abcdefghij", 10, 0), 10);
  uint64_t edge = kData2 + (1 << 20) - 4;
  EXPECT_EQ(call(SYS_read, {uint64_t(fd), edge, 10}), 4);
  EXPECT_EQ(get(edge, 4), "abcd");
  EXPECT_EQ(call(SYS_write, {uint64_t(fd), edge, 10}), 4);
  EXPECT_EQ(call(SYS_read, {uint64_t(fd), kUnmapped, 10}), -EFAULT);
  // A closed fd wins over a bad buffer, as in Linux.
  EXPECT_EQ(call(SYS_read, {150, kUnmapped, 10}), -EBADF);
  // A read-only fd cannot be written, whatever the buffer.
  int ro = ::open("/dev/null", O_RDONLY);
  EXPECT_EQ(call(SYS_write, {uint64_t(ro), kUnmapped, 10}), -EBADF);
  ::close(ro);
  EXPECT_EQ(call(SYS_open, {kUnmapped, 0, 0}), -EFAULT);
  // A path with no NUL within PATH_MAX.
  std::string longp(5000, 'a');
  ASSERT_TRUE(mm().copy_out(kData + 0x10000, longp.data(), longp.size()).ok());
  EXPECT_EQ(call(SYS_open, {kData + 0x10000, 0, 0}), -ENAMETOOLONG);
  ::close(static_cast<int>(fd));
}

TEST_F(SysFsTest, Readv) {
  int p[2];
  ASSERT_EQ(::pipe(p), 0);
  ASSERT_EQ(::write(p[1], "hello world", 11), 11);
  struct iovec iov[2] = {{reinterpret_cast<void*>(kData + 0x100), 5},
                         {reinterpret_cast<void*>(kData + 0x200), 6}};
  ASSERT_TRUE(mm().copy_out(kData, iov, sizeof(iov)).ok());
  EXPECT_EQ(call(SYS_readv, {uint64_t(p[0]), kData, 2}), 11);
  EXPECT_EQ(get(kData + 0x100, 5), "hello");
  EXPECT_EQ(get(kData + 0x200, 6), " world");
  EXPECT_EQ(call(SYS_readv, {uint64_t(p[0]), kData, 1025}), -EINVAL);
  struct iovec neg = {reinterpret_cast<void*>(kData + 0x100), static_cast<size_t>(-1)};
  ASSERT_TRUE(mm().copy_out(kData, &neg, sizeof(neg)).ok());
  EXPECT_EQ(call(SYS_readv, {uint64_t(p[0]), kData, 1}), -EINVAL);
  // A fault in a later segment ends the transfer there.
  ASSERT_EQ(::write(p[1], "abcdef", 6), 6);
  struct iovec part[2] = {{reinterpret_cast<void*>(kData + 0x100), 3},
                          {reinterpret_cast<void*>(kUnmapped), 3}};
  ASSERT_TRUE(mm().copy_out(kData, part, sizeof(part)).ok());
  EXPECT_EQ(call(SYS_readv, {uint64_t(p[0]), kData, 2}), 3);
  ::close(p[0]);
  ::close(p[1]);
}

TEST_F(SysFsTest, FdFloor) {
  // An "elfuse" fd at the floor.
  int own = ::fcntl(0, F_DUPFD, kFloor);
  ASSERT_GE(own, kFloor);
  EXPECT_EQ(call(SYS_fstat, {uint64_t(own), kData}), -EBADF);
  EXPECT_EQ(call(SYS_close, {uint64_t(own)}), -EBADF);
  EXPECT_EQ(call(SYS_dup, {uint64_t(own)}), -EBADF);
  EXPECT_EQ(call(SYS_dup2, {0, uint64_t(own)}), -EBADF);
  EXPECT_EQ(call(SYS_dup3, {0, uint64_t(own), 0}), -EBADF);
  EXPECT_EQ(call(SYS_fcntl, {0, F_DUPFD, kFloor}), -EINVAL);
  EXPECT_EQ(call(SYS_fcntl, {uint64_t(own), F_GETFD}), -EBADF);
  // A relative path through elfuse's fd looks like a closed dirfd; an
  // absolute one ignores dirfd.
  uint64_t rel = put(kData, "x");
  EXPECT_EQ(call(SYS_openat, {uint64_t(own), rel, O_RDONLY, 0}), -EBADF);
  uint64_t abs = put(kData, "/dev/null");
  int64_t fd = call(SYS_openat, {uint64_t(own), abs, O_RDONLY, 0});
  EXPECT_GE(fd, 0);
  ::close(static_cast<int>(fd));
  // close_range never reaches the floor.
  int low = ::dup(0);
  EXPECT_EQ(call(SYS_close_range, {uint64_t(low), ~0u, 0}), 0);
  EXPECT_EQ(::fcntl(low, F_GETFD), -1);
  EXPECT_GE(::fcntl(own, F_GETFD), 0);
  EXPECT_EQ(call(SYS_close_range, {5, 4, 0}), -EINVAL);
  EXPECT_EQ(call(SYS_close_range, {uint64_t(kFloor), ~0u, 0}), 0);
  EXPECT_GE(::fcntl(own, F_GETFD), 0);
  ::close(own);
}

TEST_F(SysFsTest, VirtualNofile) {
  struct rlimit lim {};
  EXPECT_EQ(call(SYS_getrlimit, {RLIMIT_NOFILE, kData}), 0);
  ASSERT_TRUE(mm().copy_in(&lim, kData, sizeof(lim)).ok());
  EXPECT_EQ(lim.rlim_cur, uint64_t(kFloor));
  EXPECT_EQ(lim.rlim_max, uint64_t(kFloor));
  lim = {300, 300};
  ASSERT_TRUE(mm().copy_out(kData, &lim, sizeof(lim)).ok());
  EXPECT_EQ(call(SYS_setrlimit, {RLIMIT_NOFILE, kData}), -EPERM);
  lim = {100, 50};
  ASSERT_TRUE(mm().copy_out(kData, &lim, sizeof(lim)).ok());
  EXPECT_EQ(call(SYS_prlimit64, {0, RLIMIT_NOFILE, kData, 0}), -EINVAL);
  // Limit the guest to the fds it has: the next one is EMFILE.
  uint64_t lowest = uint64_t(lowest_free_fd());
  lim = {lowest, lowest};
  ASSERT_TRUE(mm().copy_out(kData, &lim, sizeof(lim)).ok());
  EXPECT_EQ(call(SYS_prlimit64, {0, RLIMIT_NOFILE, kData, kData + 64}), 0);
  ASSERT_TRUE(mm().copy_in(&lim, kData + 64, sizeof(lim)).ok());
  EXPECT_EQ(lim.rlim_cur, uint64_t(kFloor));  // the old value
  EXPECT_EQ(call(SYS_dup, {0}), -EMFILE);
  EXPECT_EQ(call(SYS_pipe2, {kData, 0}), -EMFILE);
  EXPECT_EQ(call(SYS_dup2, {0, lowest}), -EBADF);
  EXPECT_EQ(lowest_free_fd(), int(lowest));  // nothing leaked
  // RLIMIT_CPU is the host's.
  EXPECT_EQ(call(SYS_prlimit64, {0, RLIMIT_CPU, 0, kData}), 0);
  struct rlimit host {};
  ::getrlimit(RLIMIT_CPU, &host);
  ASSERT_TRUE(mm().copy_in(&lim, kData, sizeof(lim)).ok());
  EXPECT_EQ(lim.rlim_cur, host.rlim_cur);
  // RLIMIT_STACK (and DATA, AS, MEMLOCK...) are the guest's: set and read
  // back, the host's untouched.
  ::getrlimit(RLIMIT_STACK, &host);
  lim = {1 << 20, 2 << 20};
  ASSERT_TRUE(mm().copy_out(kData, &lim, sizeof(lim)).ok());
  EXPECT_EQ(call(SYS_setrlimit, {RLIMIT_STACK, kData}), 0);
  EXPECT_EQ(call(SYS_getrlimit, {RLIMIT_STACK, kData + 64}), 0);
  ASSERT_TRUE(mm().copy_in(&lim, kData + 64, sizeof(lim)).ok());
  EXPECT_EQ(lim.rlim_cur, 1u << 20);
  EXPECT_EQ(lim.rlim_max, 2u << 20);
  struct rlimit after {};
  ::getrlimit(RLIMIT_STACK, &after);
  EXPECT_EQ(after.rlim_cur, host.rlim_cur);
  EXPECT_EQ(after.rlim_max, host.rlim_max);
  EXPECT_EQ(call(SYS_getrlimit, {99, kData}), -EINVAL);
}

TEST_F(SysFsTest, ProcSelfExeAndCwd) {
  uint64_t path = put(kData, "/proc/self/exe");
  EXPECT_EQ(call(SYS_readlink, {path, kData + 0x100, 4096}), 15);
  EXPECT_EQ(get(kData + 0x100, 15), "/guest/bin/prog");
  EXPECT_EQ(call(SYS_readlink, {path, kData + 0x100, 6}), 6);
  EXPECT_EQ(call(SYS_readlink, {path, kData + 0x100, 0}), -EINVAL);
  put(kData, "/proc/" + std::to_string(::getpid()) + "/exe");
  EXPECT_EQ(call(SYS_readlinkat, {kAtFdcwd, kData, kData + 0x100, 100}), 15);
  // Other links are the host's.
  put(kData, "/proc/self/cwd");
  char cwd[4096];
  ASSERT_NE(::getcwd(cwd, sizeof(cwd)), nullptr);
  EXPECT_EQ(call(SYS_readlink, {kData, kData + 0x100, 4096}), int64_t(strlen(cwd)));
  // getcwd counts the NUL; too small is ERANGE.
  EXPECT_EQ(call(SYS_getcwd, {kData + 0x100, 4096}), int64_t(strlen(cwd) + 1));
  EXPECT_EQ(get(kData + 0x100, strlen(cwd) + 1), std::string(cwd, strlen(cwd) + 1));
  EXPECT_EQ(call(SYS_getcwd, {kData + 0x100, 1}), -ERANGE);
}

TEST_F(SysFsTest, DirectoryOps) {
  uint64_t d = put(kData, dir_ + "/sub");
  EXPECT_EQ(call(SYS_mkdir, {d, 0755}), 0);
  EXPECT_EQ(call(SYS_mkdir, {d, 0755}), -EEXIST);
  uint64_t f = put(kData + 0x1000, dir_ + "/sub/a");
  int64_t fd = call(SYS_openat, {kAtFdcwd, f, O_WRONLY | O_CREAT, 0644});
  ASSERT_GE(fd, 0);
  ::close(int(fd));
  uint64_t g = put(kData + 0x2000, dir_ + "/sub/b");
  EXPECT_EQ(call(SYS_rename, {f, g}), 0);
  EXPECT_EQ(call(SYS_access, {g, R_OK}), 0);
  EXPECT_EQ(call(SYS_symlink, {put(kData + 0x3000, "b"), f}), 0);
  EXPECT_EQ(call(SYS_readlinkat, {kAtFdcwd, f, kData + 0x4000, 100}), 1);
  // getdents64 lists ".", "..", "a", "b".
  int64_t dfd = call(SYS_open, {d, O_RDONLY | O_DIRECTORY, 0});
  ASSERT_GE(dfd, 0);
  int64_t n = call(SYS_getdents64, {uint64_t(dfd), kData + 0x5000, 4096});
  ASSERT_GT(n, 0);
  std::string ents = get(kData + 0x5000, size_t(n));
  int count = 0;
  for (size_t off = 0; off < ents.size();) {
    uint16_t reclen;
    std::memcpy(&reclen, ents.data() + off + 16, 2);
    count++;
    off += reclen;
  }
  EXPECT_EQ(count, 4);
  EXPECT_EQ(call(SYS_getdents64, {uint64_t(dfd), kData + 0x5000, 4096}), 0);
  ::close(int(dfd));
  EXPECT_EQ(call(SYS_unlink, {f}), 0);
  EXPECT_EQ(call(SYS_unlinkat, {kAtFdcwd, g, 0}), 0);
  EXPECT_EQ(call(SYS_rmdir, {d}), 0);
}

TEST_F(SysFsTest, FcntlIoctlPipe) {
  EXPECT_EQ(call(SYS_pipe2, {kData, O_CLOEXEC}), 0);
  int p[2];
  ASSERT_TRUE(mm().copy_in(p, kData, sizeof(p)).ok());
  EXPECT_EQ(call(SYS_fcntl, {uint64_t(p[0]), F_GETFD}), FD_CLOEXEC);
  EXPECT_EQ(call(SYS_fcntl, {uint64_t(p[0]), 9999, 0}), -EINVAL);
  EXPECT_EQ(call(SYS_fcntl, {150, 9999, 0}), -EBADF);
  ASSERT_EQ(::write(p[1], "abc", 3), 3);
  EXPECT_EQ(call(SYS_ioctl, {uint64_t(p[0]), FIONREAD, kData + 0x10}), 0);
  int avail = 0;
  ASSERT_TRUE(mm().copy_in(&avail, kData + 0x10, 4).ok());
  EXPECT_EQ(avail, 3);
  EXPECT_EQ(call(SYS_ioctl, {uint64_t(p[0]), TCGETS, kData}), -ENOTTY);
  EXPECT_EQ(call(SYS_ioctl, {uint64_t(p[0]), 0x12345, kData}), -ENOTTY);
  EXPECT_EQ(call(SYS_ioctl, {150, 0x12345, kData}), -EBADF);
  EXPECT_EQ(call(SYS_ioctl, {uint64_t(p[0]), FIONREAD, kUnmapped}), -EFAULT);
  // struct flock through F_GETLK on a file.
  uint64_t path = put(kData + 0x100, dir_ + "/lk");
  int64_t fd = call(SYS_open, {path, O_RDWR | O_CREAT, 0600});
  ASSERT_GE(fd, 0);
  struct flock fl {};
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET;
  ASSERT_TRUE(mm().copy_out(kData + 0x200, &fl, sizeof(fl)).ok());
  EXPECT_EQ(call(SYS_fcntl, {uint64_t(fd), F_GETLK, kData + 0x200}), 0);
  ASSERT_TRUE(mm().copy_in(&fl, kData + 0x200, sizeof(fl)).ok());
  EXPECT_EQ(fl.l_type, F_UNLCK);
  ::close(int(fd));
  ::close(p[0]);
  ::close(p[1]);
}

TEST_F(SysFsTest, Info) {
  EXPECT_EQ(call(SYS_uname, {kData}), 0);
  struct utsname u {};
  ::uname(&u);
  EXPECT_EQ(get(kData + 65 * 2, strlen(u.release)), std::string(u.release));
  EXPECT_EQ(call(SYS_uname, {kUnmapped}), -EFAULT);
  EXPECT_EQ(call(SYS_getrandom, {kData, 16, 0x80}), -EINVAL);
  EXPECT_EQ(call(SYS_getrandom, {kData, 16, 0x6}), -EINVAL);  // GRND_INSECURE|GRND_RANDOM
  EXPECT_EQ(call(SYS_getrandom, {kData2 - 8, 16, 0}), 16);
  int64_t n = call(SYS_sched_getaffinity, {0, 128, kData});
  EXPECT_GT(n, 0);
  EXPECT_EQ(call(SYS_sched_getaffinity, {0, 7, kData}), -EINVAL);
  EXPECT_EQ(call(SYS_getpid, {}), ::getpid());
  EXPECT_EQ(call(SYS_gettid, {}), ::gettid());
  EXPECT_EQ(call(SYS_getuid, {}), int64_t(::getuid()));
  EXPECT_EQ(call(SYS_clock_gettime, {CLOCK_MONOTONIC, kData}), 0);
  EXPECT_EQ(call(SYS_clock_gettime, {999, kData}), -EINVAL);
  EXPECT_EQ(call(SYS_clock_getres, {CLOCK_MONOTONIC, 0}), 0);
  int64_t old = call(SYS_umask, {022});
  EXPECT_EQ(call(SYS_umask, {uint64_t(old)}), 022);
  EXPECT_GT(call(SYS_time, {kData}), 0);
}

}  // namespace
}  // namespace elfuse
