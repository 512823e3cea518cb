#include "base/timing.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>

namespace elfuse {

bool timing_enabled() {
  static const bool on = [] {
    const char* s = getenv("ELFUSE_TIMING");
    return s && strcmp(s, "1") == 0;
  }();
  return on;
}

void timing_mark_slow(const char* what) {
  timespec mono, cpu;
  clock_gettime(CLOCK_MONOTONIC, &mono);
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu);
  char buf[256];
  int n =
      snprintf(buf, sizeof buf, "elfuse-timing: %d %d %.1f %.1f %s\n", getpid(), gettid(),
               mono.tv_sec * 1e6 + mono.tv_nsec / 1e3, cpu.tv_sec * 1e6 + cpu.tv_nsec / 1e3, what);
  if (n > 0) (void)!write(2, buf, static_cast<size_t>(std::min<int>(n, sizeof buf - 1)));
}

}  // namespace elfuse

namespace elfuse {
namespace {
constexpr int kNrs = 512;
std::atomic<int64_t> g_exits[static_cast<int>(TimingExit::kCount)];
std::atomic<int64_t> g_trap_nr[kNrs];
std::atomic<int64_t> g_guest_ns, g_host_ns;
const char* const kExitNames[] = {
    "trap",  "taken back", "claimed (worker)", "answered (exit for a signal)",
    "fault", "interrupted"};
}  // namespace

int64_t timing_now_ns() {
  timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1'000'000'000ll + t.tv_nsec;
}

void timing_count_exit(TimingExit kind, uint64_t nr, int64_t guest_ns, int64_t host_ns) {
  g_exits[static_cast<int>(kind)].fetch_add(1, std::memory_order_relaxed);
  if ((kind == TimingExit::kTrap || kind == TimingExit::kTakenBack) && nr < kNrs)
    g_trap_nr[nr].fetch_add(1, std::memory_order_relaxed);
  g_guest_ns.fetch_add(guest_ns, std::memory_order_relaxed);
  g_host_ns.fetch_add(host_ns, std::memory_order_relaxed);
}

void timing_reset_exits() {
  for (auto& e : g_exits) e.store(0);
  for (auto& e : g_trap_nr) e.store(0);
  g_guest_ns.store(0);
  g_host_ns.store(0);
}

void timing_print_exits() {
  if (!timing_enabled()) return;
  char buf[2048];
  int n = snprintf(buf, sizeof buf, "elfuse-exits: %d guest %.1f us, host between runs %.1f us;",
                   getpid(), g_guest_ns.load() / 1e3, g_host_ns.load() / 1e3);
  for (int k = 0; k < static_cast<int>(TimingExit::kCount); k++)
    n += snprintf(buf + n, sizeof buf - n, " %s %ld,", kExitNames[k], (long)g_exits[k].load());
  n += snprintf(buf + n, sizeof buf - n, " traps by nr:");
  // The most frequent trapped calls, by number.
  int64_t counts[kNrs];
  for (int i = 0; i < kNrs; i++) counts[i] = g_trap_nr[i].load();
  for (int shown = 0; shown < 12 && n < static_cast<int>(sizeof buf) - 64; shown++) {
    int best = 0;
    for (int i = 1; i < kNrs; i++)
      if (counts[i] > counts[best]) best = i;
    if (counts[best] == 0) break;
    n += snprintf(buf + n, sizeof buf - n, " %d:%ld", best, static_cast<long>(counts[best]));
    counts[best] = 0;
  }
  n += snprintf(buf + n, sizeof buf - n, "\n");
  (void)!write(2, buf, static_cast<size_t>(std::min<int>(n, sizeof buf - 1)));
}

}  // namespace elfuse
