// When the exitless worker spins: the cost model of docs/internals.md
// ("Spinning, and no CPU burned while nothing happens"), kept apart from the
// threads and clocks that feed it so that it can be tested on its own
// (tests/unit/test_exitless_policy.cc).
//
// The worker W of a guest thread T pays only while a call posted through
// the request page costs T clearly less than the exit it avoids. On a host
// whose CPUs are contended it may not: W is not running when T posts (T's
// entry spins, then takes the exit anyway), or runs late (each call waits
// to be claimed). So W judges every spin by what its calls cost:
// - a served call saved `exit_ns - channel_ns - waited_ns` (waited_ns: the
//   time from the entry's post to W's claim);
// - a call the entry gave up on (taken back, or claimed and then waited
//   for at an exit) lost the entry's spin, `entry_spin_ns`.
// W stops a spin early when its recent calls save less than a quarter of an
// exit each. A spin is good when it served at least two calls and saved at
// least that quarter per call on balance; after a spin that was not, T
// leaves W asleep for a while: 1 ms, then twice as long for each further
// spin that was not good (up to 2^(max_level - 1) ms). A good spin halves
// that sleep (one level down), it does not forget it: one lucky spin in a
// contended stretch does not start the waste over.
#pragma once

#include <cstdint>

namespace elfuse {

struct ExitlessCosts {
  // What a forwarded call costs beyond its handler on the exit path: the
  // round trip through the host process (shared/pvm/README.md).
  int64_t exit_ns = 30'000;
  // A served call's own cost beyond its handler and its wait to be claimed:
  // the entry's hop and the cache lines between two CPUs.
  int64_t channel_ns = 1'500;
  // What the entry spends on a call before it gives up and exits.
  int64_t entry_spin_ns = 40'000;
  // The first sleep after a spin that did not pay, doubled per level.
  int64_t backoff_ns = 1'000'000;
  int max_level = 8;
};

class ExitlessPolicy {
 public:
  explicit ExitlessPolicy(const ExitlessCosts& costs = {}) : c_(costs) {}

  // W starts watching the request page.
  void spin_start() {
    calls_ = 0;
    saved_ns_ = 0;
    // Each spin starts trusting the channel: a call or two that waited
    // while W was being scheduled in do not stop it.
    recent_ns_ = c_.exit_ns - c_.channel_ns;
    stopped_ = false;
  }

  // W served a call that waited `waited_ns` to be claimed. False: stop
  // spinning, the recent calls cost about as much as exits.
  bool served(int64_t waited_ns) {
    int64_t saved = c_.exit_ns - c_.channel_ns - waited_ns;
    saved_ns_ += saved;
    // A moving average over about the last 8 calls.
    recent_ns_ += (saved - recent_ns_) / 8;
    calls_++;
    if (recent_ns_ < worth_ns()) stopped_ = true;
    return !stopped_;
  }

  // W stopped spinning; `lost_ns`: what T lost meanwhile to calls its entry
  // gave up on. Returns how long T then leaves W asleep (0: T may wake it at
  // its next close call).
  int64_t spin_end(int64_t lost_ns) {
    bool good = calls_ >= 2 && !stopped_ && saved_ns_ - lost_ns >= calls_ * worth_ns();
    if (good && level_ > 0) level_--;
    if (!good && level_ < c_.max_level) level_++;
    return sleep_ns();
  }

  // T trapped at `now_ns` on an allowlisted call; its previous allowlisted
  // call was trapped at `last_trap_ns` or served by W at `last_served_ns`.
  // Whether W (asleep, or not made yet) is worth waking: only when the
  // calls come close together, so sparse ones cost no thread and no spin.
  // Returns the gap to pass on to W, or -1 to leave W asleep.
  static int64_t wake_gap(int64_t now_ns, int64_t last_trap_ns, int64_t last_served_ns,
                          int64_t budget_ns) {
    int64_t gap = now_ns - (last_trap_ns > last_served_ns ? last_trap_ns : last_served_ns);
    return gap <= 2 * budget_ns ? gap : -1;
  }

  // How long W, woken with `gap_ns`, watches for the first call: T's next
  // call comes about one gap later.
  static int64_t first_spin_ns(int64_t gap_ns, int64_t budget_ns) {
    int64_t t = 2 * gap_ns;
    return t < budget_ns ? budget_ns : t > 4 * budget_ns ? 4 * budget_ns : t;
  }

  // The sleep the current level asks for.
  int64_t sleep_ns() const { return level_ == 0 ? 0 : c_.backoff_ns << (level_ - 1); }
  int level() const { return level_; }

 private:
  // A call must save at least this much to be worth the worker.
  int64_t worth_ns() const { return c_.exit_ns / 4; }

  ExitlessCosts c_;
  int level_ = 0;
  // This spin's served calls, what they saved in all, and lately.
  int64_t calls_ = 0;
  int64_t saved_ns_ = 0;
  int64_t recent_ns_ = 0;
  bool stopped_ = false;
};

}  // namespace elfuse
