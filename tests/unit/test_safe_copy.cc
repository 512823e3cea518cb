// base/safe_copy: copies that stop at a page they cannot reach (a file page
// past EOF: SIGBUS; an unmapped page: SIGSEGV) instead of crashing, on any
// thread whatever its mask, under the self-confinement filter and in forked
// children; faults elsewhere still kill by their signal, and signals sent by
// kill() still reach the disposition set for them.
#include <gtest/gtest.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <functional>
#include <vector>

#include "base/safe_copy.h"
#include "base/self_confine.h"

namespace elfuse::safe_copy {
namespace {

const size_t kPage = static_cast<size_t>(sysconf(_SC_PAGESIZE));

// A file of one page of pattern bytes, mapped with two pages (the second
// wholly past EOF: SIGBUS on access).
struct FileMapping {
  int fd = -1;
  uint8_t* p = nullptr;
  FileMapping(int flags, int prot) {
    char tmpl[] = "/tmp/elfuse_safe_copy_XXXXXX";
    fd = mkstemp(tmpl);
    unlink(tmpl);
    std::vector<uint8_t> page(kPage);
    for (size_t i = 0; i < kPage; i++) page[i] = static_cast<uint8_t>(i * 7 + 1);
    EXPECT_EQ(write(fd, page.data(), kPage), static_cast<ssize_t>(kPage));
    p = static_cast<uint8_t*>(mmap(nullptr, 2 * kPage, prot, flags, fd, 0));
    EXPECT_NE(p, MAP_FAILED);
  }
  ~FileMapping() {
    munmap(p, 2 * kPage);
    close(fd);
  }
};

uint8_t pattern(size_t i) {
  return static_cast<uint8_t>(i * 7 + 1);
}

// Runs body in a forked child; returns the wait status.
int in_child(const std::function<int()>& body) {
  pid_t pid = fork();
  if (pid == 0) _exit(body());
  int status = 0;
  waitpid(pid, &status, 0);
  return status;
}

TEST(SafeCopy, NormalCopiesAreExact) {
  std::vector<uint8_t> src(3 * kPage + 77), dst(src.size());
  for (size_t i = 0; i < src.size(); i++) src[i] = static_cast<uint8_t>(i ^ (i >> 8));
  FaultWindow w;
  for (size_t off : {0, 1, 7, 63}) {
    for (size_t n : {0ul, 1ul, 2ul, 15ul, 64ul, 4095ul, 4096ul, 9000ul}) {
      std::fill(dst.begin(), dst.end(), 0xee);
      EXPECT_EQ(copy(dst.data() + off, src.data() + off, n), 0u) << off << " " << n;
      EXPECT_EQ(memcmp(dst.data() + off, src.data() + off, n), 0) << off << " " << n;
      if (off + n < dst.size()) {
        EXPECT_EQ(dst[off + n], 0xee);  // not one byte more
      }
    }
  }
}

TEST(SafeCopy, AcrossTheEndOfAFileStopsAtEof) {
  FileMapping m(MAP_PRIVATE, PROT_READ | PROT_WRITE);
  std::vector<uint8_t> dst(512, 0);
  FaultWindow w;
  // 100 bytes before EOF, 412 after: the 100 are copied, exactly.
  EXPECT_EQ(copy(dst.data(), m.p + kPage - 100, 512), 412u);
  for (size_t i = 0; i < 100; i++) ASSERT_EQ(dst[i], pattern(kPage - 100 + i)) << i;
  EXPECT_EQ(dst[100], 0);
  // Wholly past EOF: nothing.
  EXPECT_EQ(copy(dst.data(), m.p + kPage, 16), 16u);
  // A large copy that starts at the mapping: the first page.
  std::vector<uint8_t> big(2 * kPage);
  EXPECT_EQ(copy(big.data(), m.p, 2 * kPage), kPage);
  for (size_t i = 0; i < kPage; i++) ASSERT_EQ(big[i], pattern(i)) << i;
  // Stores: into the file's page, then past EOF (SIGBUS on the store).
  std::vector<uint8_t> src(300, 0x5a);
  EXPECT_EQ(copy(m.p + kPage - 200, src.data(), 300), 100u);
  EXPECT_EQ(m.p[kPage - 1], 0x5a);
}

TEST(SafeCopy, SharedFileMappingPastEof) {
  FileMapping m(MAP_SHARED, PROT_READ | PROT_WRITE);
  std::vector<uint8_t> src(64, 1), dst(64);
  FaultWindow w;
  EXPECT_EQ(copy(m.p + kPage + 8, src.data(), 64), 64u);
  EXPECT_EQ(copy(dst.data(), m.p + kPage - 32, 64), 32u);
}

TEST(SafeCopy, UnmappedAndReadOnlyMemoryFaults) {
  auto* p = static_cast<uint8_t*>(
      mmap(nullptr, 2 * kPage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  ASSERT_NE(p, MAP_FAILED);
  memset(p, 3, 2 * kPage);
  ASSERT_EQ(munmap(p + kPage, kPage), 0);
  std::vector<uint8_t> buf(256, 0);
  FaultWindow w;
  EXPECT_EQ(copy(buf.data(), p + kPage, 256), 256u);  // SIGSEGV, SEGV_MAPERR
  EXPECT_EQ(copy(buf.data(), p + kPage - 10, 256), 246u);
  EXPECT_EQ(buf[9], 3);
  EXPECT_EQ(copy(buf.data(), reinterpret_cast<void*>(8), 4), 4u);  // NULL's page
  ASSERT_EQ(mprotect(p, kPage, PROT_READ), 0);
  EXPECT_EQ(copy(p, buf.data(), 16), 16u);  // SEGV_ACCERR on the store
  uint32_t v = 0;
  EXPECT_FALSE(load32(reinterpret_cast<const uint32_t*>(p + kPage), &v));
  uint32_t expected = 0;
  EXPECT_EQ(cmpxchg32(reinterpret_cast<uint32_t*>(p), &expected, 1), -1);  // read-only
  munmap(p, kPage);
}

TEST(SafeCopy, Load32AndCmpxchg32) {
  uint32_t word = 5, v = 0, expected = 4;
  FaultWindow w;
  EXPECT_TRUE(load32(&word, &v));
  EXPECT_EQ(v, 5u);
  EXPECT_EQ(cmpxchg32(&word, &expected, 9), 0);
  EXPECT_EQ(expected, 5u);
  EXPECT_EQ(word, 5u);
  EXPECT_EQ(cmpxchg32(&word, &expected, 9), 1);
  EXPECT_EQ(word, 9u);
  FileMapping m(MAP_SHARED, PROT_READ | PROT_WRITE);
  EXPECT_FALSE(load32(reinterpret_cast<const uint32_t*>(m.p + kPage), &v));
  EXPECT_EQ(cmpxchg32(reinterpret_cast<uint32_t*>(m.p + kPage), &expected, 1), -1);
}

// elfuse's host threads often have SIGSEGV and SIGBUS blocked (a guest's
// mask, an exitless worker's): the window opens them and closes them again.
TEST(SafeCopy, WorksOnAThreadThatBlocksEverySignal) {
  FileMapping m(MAP_PRIVATE, PROT_READ);
  struct Arg {
    uint8_t* p;
    size_t left = 0;
    bool still_blocked = false;
  } arg{m.p};
  pthread_t t;
  ASSERT_EQ(pthread_create(
                &t, nullptr,
                [](void* v) -> void* {
                  auto* a = static_cast<Arg*>(v);
                  sigset_t all;
                  sigfillset(&all);
                  pthread_sigmask(SIG_SETMASK, &all, nullptr);
                  uint8_t buf[64];
                  {
                    FaultWindow w;
                    a->left = copy(buf, a->p + kPage - 16, sizeof buf);
                  }
                  sigset_t now;
                  pthread_sigmask(SIG_SETMASK, nullptr, &now);
                  a->still_blocked = sigismember(&now, SIGSEGV) && sigismember(&now, SIGBUS);
                  return nullptr;
                },
                &arg),
            0);
  pthread_join(t, nullptr);
  EXPECT_EQ(arg.left, 48u);
  EXPECT_TRUE(arg.still_blocked);
}

TEST(SafeCopy, WorksInAForkedChildUnderTheSelfConfinementFilter) {
  int st = in_child([] {
    std::vector<sock_filter> prog = confine::build_filter();
    if (confine::install(prog) != 0) return 100;
    FileMapping m(MAP_PRIVATE, PROT_READ);
    uint8_t buf[32];
    FaultWindow w;
    if (copy(buf, m.p + kPage - 8, sizeof buf) != 24) return 1;
    if (copy(buf, m.p, sizeof buf) != 0 || buf[3] != pattern(3)) return 2;
    // And its own child, forked after the fault (the handler is inherited).
    pid_t c = fork();
    if (c == 0) _exit(copy(buf, m.p + kPage, 4) == 4 ? 0 : 1);
    int cs = 0;
    waitpid(c, &cs, 0);
    return WIFEXITED(cs) && WEXITSTATUS(cs) == 0 ? 0 : 3;
  });
  ASSERT_TRUE(WIFEXITED(st)) << st;
  EXPECT_EQ(WEXITSTATUS(st), 0);
}

// A fault outside the routines is a crash of elfuse: it still dies by it.
TEST(SafeCopy, FaultsElsewhereStillKillBySignal) {
  int st = in_child([] {
    install();
    *static_cast<volatile int*>(nullptr) = 1;
    return 0;
  });
  ASSERT_TRUE(WIFSIGNALED(st)) << st;
  EXPECT_EQ(WTERMSIG(st), SIGSEGV);
  st = in_child([] {
    install();
    FileMapping m(MAP_PRIVATE, PROT_READ);
    volatile uint8_t x = m.p[kPage];  // past EOF, outside the routines
    return x;
  });
  ASSERT_TRUE(WIFSIGNALED(st)) << st;
  EXPECT_EQ(WTERMSIG(st), SIGBUS);
  // Ignored before install: a fault still kills (as force_sig_fault does).
  st = in_child([] {
    signal(SIGSEGV, SIG_IGN);
    install();
    *static_cast<volatile int*>(nullptr) = 1;
    return 0;
  });
  ASSERT_TRUE(WIFSIGNALED(st)) << st;
  EXPECT_EQ(WTERMSIG(st), SIGSEGV);
}

std::atomic<int> g_caught{0};
std::atomic<int> g_caught_code{0};
void catcher(int sig, siginfo_t* si, void*) {
  g_caught.fetch_add(1);
  g_caught_code.store(si->si_code);
}

// Signals sent by kill() go to the disposition set for them: default (dies),
// ignored, or a handler (elfuse's host handler in elfuse).
TEST(SafeCopy, SentSignalsReachTheDisposition) {
  int st = in_child([] {
    install();
    kill(getpid(), SIGBUS);
    return 0;
  });
  ASSERT_TRUE(WIFSIGNALED(st)) << st;
  EXPECT_EQ(WTERMSIG(st), SIGBUS);
  st = in_child([] {
    // SIG_IGN, as the kernel's sigaction holds it.
    set_disposition(SIGSEGV, reinterpret_cast<void (*)(int, siginfo_t*, void*)>(uintptr_t{1}), 0,
                    0);
    kill(getpid(), SIGSEGV);
    return 7;
  });
  ASSERT_TRUE(WIFEXITED(st)) << st;
  EXPECT_EQ(WEXITSTATUS(st), 7);
  st = in_child([] {
    set_disposition(SIGSEGV, catcher, SA_SIGINFO, 0);
    kill(getpid(), SIGSEGV);
    if (g_caught.load() != 1 || g_caught_code.load() != SI_USER) return 1;
    // A fault of a routine is not the handler's.
    FaultWindow w;
    uint8_t b;
    if (copy(&b, nullptr, 1) != 1) return 2;
    return g_caught.load() == 1 ? 0 : 3;
  });
  ASSERT_TRUE(WIFEXITED(st)) << st;
  EXPECT_EQ(WEXITSTATUS(st), 0);
}

// A sent SIGSEGV that the thread had blocked stays pending across a window
// (it is queued again when the window closes), rather than being taken by
// the window.
TEST(SafeCopy, ABlockedSentSignalStaysPendingAcrossAWindow) {
  int st = in_child([] {
    set_disposition(SIGSEGV, catcher, SA_SIGINFO, 0);
    sigset_t segv;
    sigemptyset(&segv);
    sigaddset(&segv, SIGSEGV);
    sigprocmask(SIG_BLOCK, &segv, nullptr);
    syscall(SYS_tgkill, getpid(), gettid(), SIGSEGV);
    {
      FaultWindow w;
      uint8_t b;
      if (copy(&b, nullptr, 1) != 1) return 1;
    }
    if (g_caught.load() != 0) return 2;
    sigset_t pending;
    sigpending(&pending);
    if (!sigismember(&pending, SIGSEGV)) return 3;
    sigprocmask(SIG_UNBLOCK, &segv, nullptr);
    if (g_caught.load() != 1 || g_caught_code.load() != SI_TKILL) return 4;
    return 0;
  });
  ASSERT_TRUE(WIFEXITED(st)) << st;
  EXPECT_EQ(WEXITSTATUS(st), 0);
}

}  // namespace
}  // namespace elfuse::safe_copy
