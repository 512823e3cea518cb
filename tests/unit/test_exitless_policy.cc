// The exitless worker's spin policy (kernel/exitless_policy.h): when spins
// pay, when the worker stops, how long it sleeps after spins that did not.
#include <gtest/gtest.h>

#include "kernel/exitless_policy.h"

namespace elfuse {
namespace {

constexpr int64_t kMs = 1'000'000;

// One spin that served `calls` calls, each claimed `waited_ns` after its
// post; T lost `lost_ns` meanwhile. Returns the sleep the policy asks for.
int64_t spin(ExitlessPolicy& p, int calls, int64_t waited_ns, int64_t lost_ns = 0) {
  p.spin_start();
  for (int i = 0; i < calls; i++)
    if (!p.served(waited_ns)) break;
  return p.spin_end(lost_ns);
}

TEST(ExitlessPolicy, AStreamOfPromptCallsPays) {
  ExitlessPolicy p;
  p.spin_start();
  for (int i = 0; i < 100000; i++) ASSERT_TRUE(p.served(200));
  EXPECT_EQ(p.spin_end(0), 0);
  EXPECT_EQ(p.level(), 0);
}

TEST(ExitlessPolicy, SparseSpinsBackOffExponentiallyUpToTheCap) {
  // A spin that caught at most one call (the calls are too far apart): the
  // idle property (tests/guest/exitless_idle.c) rests on this.
  ExitlessPolicy p;
  EXPECT_EQ(spin(p, 0, 0), 1 * kMs);
  EXPECT_EQ(spin(p, 1, 0), 2 * kMs);
  EXPECT_EQ(spin(p, 0, 0), 4 * kMs);
  for (int i = 0; i < 20; i++) spin(p, 0, 0);
  EXPECT_EQ(p.sleep_ns(), 128 * kMs);
  EXPECT_EQ(spin(p, 1, 0), 128 * kMs);
}

TEST(ExitlessPolicy, CallsThatWaitAboutAnExitStopTheSpin) {
  // W shares a CPU: each call waits 30 us to be claimed, as long as the
  // exit it avoids. W stops within a few calls, and sleeps.
  ExitlessPolicy p;
  p.spin_start();
  int served = 0;
  while (p.served(30'000)) served++;
  EXPECT_LT(served, 16);
  EXPECT_EQ(p.spin_end(0), 1 * kMs);
}

TEST(ExitlessPolicy, OneLateCallDoesNotStopAStream) {
  // W came back from a short preemption: one call waited 40 us.
  ExitlessPolicy p;
  p.spin_start();
  for (int i = 0; i < 50; i++) ASSERT_TRUE(p.served(300));
  EXPECT_TRUE(p.served(40'000));
  for (int i = 0; i < 50; i++) ASSERT_TRUE(p.served(300));
  EXPECT_EQ(p.spin_end(0), 0);
}

TEST(ExitlessPolicy, LateCallsInTheMiddleOfAStreamStopIt) {
  // Another process starts competing for W's CPU during a long spin.
  ExitlessPolicy p;
  p.spin_start();
  for (int i = 0; i < 1000; i++) ASSERT_TRUE(p.served(300));
  int more = 0;
  while (p.served(35'000)) more++;
  EXPECT_LT(more, 16);
  EXPECT_EQ(p.spin_end(0), 1 * kMs);
}

TEST(ExitlessPolicy, CallsTheEntryGaveUpOnCountAgainstTheSpin) {
  // Three prompt calls, then W was preempted and T's entry spun 40 us for
  // each of two calls before it exited: the spin lost more than it saved.
  ExitlessPolicy p;
  EXPECT_EQ(spin(p, 3, 300, 2 * 40'000), 1 * kMs);
  // A long stream outweighs the same loss.
  EXPECT_EQ(spin(p, 1000, 300, 2 * 40'000), 0);
}

TEST(ExitlessPolicy, AGoodSpinHalvesTheSleepAndDoesNotResetIt) {
  ExitlessPolicy p;
  for (int i = 0; i < 5; i++) spin(p, 0, 0);
  EXPECT_EQ(p.sleep_ns(), 16 * kMs);
  EXPECT_EQ(spin(p, 500, 300), 8 * kMs);
  EXPECT_EQ(spin(p, 500, 300), 4 * kMs);
  // A contended stretch: good and bad spins alternate, the sleep does not
  // fall back to nothing.
  for (int i = 0; i < 10; i++) {
    spin(p, 0, 0);
    spin(p, 0, 0);
    spin(p, 500, 300);
  }
  EXPECT_GE(p.sleep_ns(), 4 * kMs);
  for (int i = 0; i < 20; i++) spin(p, 500, 300);
  EXPECT_EQ(p.sleep_ns(), 0);
}

TEST(ExitlessPolicy, TheCostsAreParameters) {
  // An exit ten times cheaper: calls that wait 5 us no longer pay.
  ExitlessCosts c;
  c.exit_ns = 3'000;
  c.channel_ns = 500;
  ExitlessPolicy p(c);
  EXPECT_EQ(spin(p, 100, 100), 0);
  EXPECT_EQ(spin(p, 100, 5'000), 1 * kMs);
}

constexpr int64_t kUs = 1'000;

TEST(ExitlessPolicy, CloseCallsWakeTheWorkerSparseOnesDoNot) {
  constexpr int64_t budget = 200 * kUs;
  // Two traps 150 us apart: wake, and tell W the gap.
  EXPECT_EQ(ExitlessPolicy::wake_gap(1'000 * kUs, 850 * kUs, 0, budget), 150 * kUs);
  // Up to 2 budgets apart still wakes; more does not.
  EXPECT_EQ(ExitlessPolicy::wake_gap(1'000 * kUs, 600 * kUs, 0, budget), 400 * kUs);
  EXPECT_EQ(ExitlessPolicy::wake_gap(1'000 * kUs, 599 * kUs, 0, budget), -1);
  // The first trap of a thread (no previous call).
  EXPECT_EQ(ExitlessPolicy::wake_gap(1'000 * kUs, 0, 0, budget), -1);
}

TEST(ExitlessPolicy, ACallTheWorkerServedCountsAsThePreviousCall) {
  // W served calls until 900 us after T's last trap, then its spin ended:
  // the next trap, 50 us after W's last call, wakes it again at once.
  constexpr int64_t budget = 200 * kUs;
  EXPECT_EQ(ExitlessPolicy::wake_gap(1'000 * kUs, 50 * kUs, 950 * kUs, budget), 50 * kUs);
  // Long after both: no wake.
  EXPECT_EQ(ExitlessPolicy::wake_gap(5'000 * kUs, 50 * kUs, 950 * kUs, budget), -1);
}

TEST(ExitlessPolicy, TheFirstSpinAfterAWakeLastsAboutTwoGaps) {
  constexpr int64_t budget = 200 * kUs;
  EXPECT_EQ(ExitlessPolicy::first_spin_ns(0, budget), budget);
  EXPECT_EQ(ExitlessPolicy::first_spin_ns(150 * kUs, budget), 300 * kUs);
  EXPECT_EQ(ExitlessPolicy::first_spin_ns(400 * kUs, budget), 800 * kUs);
  EXPECT_EQ(ExitlessPolicy::first_spin_ns(10'000 * kUs, budget), 4 * budget);
}

TEST(ExitlessPolicy, CallsEvery300UsBackOffAfterAWake) {
  // The worst case of the wake rule: each trap wakes W, which catches one
  // call, and waits 200 us for the next one in vain. Such spins are not
  // good: W soon sleeps longer than the calls' spacing.
  ExitlessPolicy p;
  for (int i = 0; i < 4; i++) spin(p, 1, 300);
  EXPECT_GE(p.sleep_ns(), 8 * kMs);
}

}  // namespace
}  // namespace elfuse
