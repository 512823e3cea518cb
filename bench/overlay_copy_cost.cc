// The host-side cost of one copy between elfuse and a guest page that is a
// file overlay (MemoryManager::copy_in/copy_out of an overlay piece): before,
// process_vm_readv/writev on elfuse itself; now a FaultWindow (one
// rt_sigprocmask) and the fault-tolerant rep movsb of base/safe_copy.h. Plain
// memcpy for scale. Measured natively on a MAP_PRIVATE mapping of a file
// (the kind of page it is under elfuse), rounds alternating, median of the
// rounds; docs/performance.md, "Copies to and from file mappings".
//
// usage: bench_overlay_copy_cost [ITERATIONS [ROUNDS]]   (default 200000 9)
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "base/safe_copy.h"

namespace {

int64_t now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1'000'000'000ll + ts.tv_nsec;
}

enum class Way { kProcessVm, kSafeCopy, kMemcpy };

// One copy of len bytes, to (out) or from the file page.
bool one(Way way, bool out, uint8_t* file, uint8_t* host, size_t len) {
  switch (way) {
    case Way::kProcessVm: {
      iovec local{host, len}, remote{file, len};
      ssize_t n = out ? process_vm_writev(getpid(), &local, 1, &remote, 1, 0)
                      : process_vm_readv(getpid(), &local, 1, &remote, 1, 0);
      return n == static_cast<ssize_t>(len);
    }
    case Way::kSafeCopy: {
      elfuse::safe_copy::FaultWindow w;
      return (out ? elfuse::safe_copy::copy(file, host, len)
                  : elfuse::safe_copy::copy(host, file, len)) == 0;
    }
    case Way::kMemcpy:
      if (out)
        memcpy(file, host, len);
      else
        memcpy(host, file, len);
      return true;
  }
  return false;
}

double per_copy_ns(Way way, bool out, uint8_t* file, uint8_t* host, size_t len, long iters) {
  int64_t t0 = now_ns();
  for (long i = 0; i < iters; i++)
    if (!one(way, out, file, host, len)) {
      fprintf(stderr, "copy failed\n");
      exit(1);
    }
  return static_cast<double>(now_ns() - t0) / static_cast<double>(iters);
}

}  // namespace

int main(int argc, char** argv) {
  const long iters = argc > 1 ? atol(argv[1]) : 200000;
  const int rounds = argc > 2 ? atoi(argv[2]) : 9;
  char tmpl[] = "/tmp/elfuse_bench_overlay_XXXXXX";
  int fd = mkstemp(tmpl);
  if (fd < 0) return 1;
  unlink(tmpl);
  constexpr size_t kLen = 64 << 10;
  std::vector<uint8_t> zeros(kLen, 1);
  if (write(fd, zeros.data(), kLen) != static_cast<ssize_t>(kLen)) return 1;
  auto* file =
      static_cast<uint8_t*>(mmap(nullptr, kLen, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0));
  if (file == MAP_FAILED) return 1;
  memset(file, 2, kLen);  // copied on write once, as a guest's data page is
  std::vector<uint8_t> host(kLen, 3);
  printf("%-22s %12s %12s %12s %9s\n", "copy (ns per copy)", "process_vm", "safe_copy", "memcpy",
         "pvm/safe");
  for (bool out : {false, true}) {
    for (size_t len : {16ul, 144ul, 4096ul, 65536ul}) {
      const long n = len >= 65536 ? iters / 20 : iters;
      std::vector<double> pvm, safe, plain;
      for (int r = 0; r < rounds; r++) {
        pvm.push_back(per_copy_ns(Way::kProcessVm, out, file, host.data(), len, n));
        safe.push_back(per_copy_ns(Way::kSafeCopy, out, file, host.data(), len, n));
        plain.push_back(per_copy_ns(Way::kMemcpy, out, file, host.data(), len, n));
      }
      for (auto* v : {&pvm, &safe, &plain}) std::sort(v->begin(), v->end());
      const double p = pvm[rounds / 2], s = safe[rounds / 2], m = plain[rounds / 2];
      char label[64];
      snprintf(label, sizeof label, "%s %zu B", out ? "copy_out" : "copy_in", len);
      printf("%-22s %12.1f %12.1f %12.1f %8.2fx\n", label, p, s, m, p / s);
    }
  }
  return 0;
}
