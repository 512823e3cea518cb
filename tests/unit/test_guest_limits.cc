// The kernel's limit rules elfuse applies for the guest (mm/guest_limits.h)
// and the fd floor plan (base/private_fd.h).
#include <gtest/gtest.h>

#include "base/private_fd.h"
#include "mm/guest_limits.h"

namespace elfuse {
namespace {

constexpr uint64_t kMiB = 1ull << 20;
constexpr uint64_t kGiB = 1ull << 30;

TEST(GuestLimits, DataMappingIsPrivateWritableNotStack) {
  EXPECT_TRUE(is_data_mapping(PROT_READ | PROT_WRITE, MAP_PRIVATE));
  EXPECT_TRUE(is_data_mapping(PROT_WRITE | PROT_EXEC, MAP_PRIVATE));
  EXPECT_FALSE(is_data_mapping(PROT_READ, MAP_PRIVATE));
  EXPECT_FALSE(is_data_mapping(PROT_READ | PROT_WRITE, MAP_SHARED));
  EXPECT_FALSE(is_data_mapping(PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_GROWSDOWN));
}

TEST(GuestLimits, MayExpandVm) {
  const uint64_t inf = kRlimInfinity;
  // Address space: every mapping counts.
  EXPECT_TRUE(may_expand_vm(100, 0, PROT_READ, MAP_PRIVATE, 156, kMiB, inf, inf));
  EXPECT_FALSE(may_expand_vm(100, 0, PROT_READ, MAP_PRIVATE, 157, kMiB, inf, inf));
  // Data: only private writable mappings.
  EXPECT_TRUE(may_expand_vm(0, 250, PROT_READ, MAP_PRIVATE, 100, inf, kMiB, inf));
  EXPECT_TRUE(may_expand_vm(0, 250, PROT_WRITE, MAP_SHARED, 100, inf, kMiB, inf));
  EXPECT_TRUE(may_expand_vm(0, 250, PROT_WRITE, MAP_PRIVATE, 6, inf, kMiB, inf));
  EXPECT_FALSE(may_expand_vm(0, 250, PROT_WRITE, MAP_PRIVATE, 7, inf, kMiB, inf));
  // Soft 0, hard larger: data grows to the hard limit (valgrind).
  EXPECT_TRUE(may_expand_vm(0, 0, PROT_WRITE, MAP_PRIVATE, 256, inf, 0, kMiB));
  EXPECT_FALSE(may_expand_vm(0, 0, PROT_WRITE, MAP_PRIVATE, 257, inf, 0, kMiB));
  EXPECT_TRUE(may_expand_vm(1ull << 40, 1ull << 40, PROT_WRITE, MAP_PRIVATE, 1, inf, inf, inf));
}

TEST(GuestLimits, BrkCountsHeapAndData) {
  EXPECT_TRUE(brk_fits_data_rlimit(kRlimInfinity, 1ull << 46, 0x1000, 0, 0));
  EXPECT_TRUE(brk_fits_data_rlimit(kMiB, 0x100000 + kMiB - 0x1000, 0x100000, 0x1000, 0));
  EXPECT_FALSE(brk_fits_data_rlimit(kMiB, 0x100000 + kMiB - 0xfff, 0x100000, 0x1000, 0));
}

TEST(GuestLimits, ReservationBudget) {
  const uint64_t inf = kRlimInfinity;
  EXPECT_EQ(reservation_budget(64 * kGiB, 512 * kMiB, kGiB, inf, inf, 0, 0), 64 * kGiB);
  // ulimit -v 4194304 with 100 MiB used: 4 GiB - 1 GiB - 100 MiB, rounded.
  EXPECT_EQ(reservation_budget(64 * kGiB, 512 * kMiB, kGiB, 4 * kGiB, inf, 100 * kMiB, 0),
            2816 * kMiB);
  // The data limit counts VmData.
  EXPECT_EQ(reservation_budget(64 * kGiB, 512 * kMiB, kGiB, inf, 4 * kGiB, 100 * kMiB, 20 * kMiB),
            2816 * kMiB);
  // Too little: 0.
  EXPECT_EQ(reservation_budget(64 * kGiB, 512 * kMiB, kGiB, 1536 * kMiB, inf, 100 * kMiB, 0), 0u);
}

TEST(FdFloor, RaisedKeepsTheHostLimits) {
  FdPlan p = plan_fd_floor(1024, 4096, true);
  EXPECT_EQ(p.floor, 4096);
  EXPECT_EQ(p.guest_soft, 1024u);
  EXPECT_EQ(p.guest_hard, 4096u);
  EXPECT_EQ(p.host_hard, 4096 + kPrivateFds);
}

TEST(FdFloor, GuestHardNeverAboveTheFloor) {
  for (uint64_t hard : {64ull, 300ull, 2000ull, 4096ull, 20000ull, 66000ull, 1048576ull}) {
    FdPlan p = plan_fd_floor(hard, hard, false);
    EXPECT_LE(p.guest_hard, static_cast<uint64_t>(p.floor)) << hard;
    EXPECT_LE(p.guest_soft, p.guest_hard) << hard;
    EXPECT_LE(p.host_soft, hard) << hard;
    EXPECT_GT(p.host_soft, static_cast<uint64_t>(p.floor)) << hard;
    EXPECT_LE(static_cast<uint64_t>(p.floor), kMaxFdFloor) << hard;
  }
  FdPlan p = plan_fd_floor(1024, 20000, false);
  EXPECT_EQ(p.guest_hard, 20000 - kPrivateFds);
  EXPECT_EQ(p.guest_soft, 1024u);
  p = plan_fd_floor(1048576, 1048576, false);
  EXPECT_EQ(p.guest_hard, kMaxFdFloor);
  EXPECT_EQ(p.guest_soft, kMaxFdFloor);
}

}  // namespace
}  // namespace elfuse
