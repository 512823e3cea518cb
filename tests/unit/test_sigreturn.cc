#include <gtest/gtest.h>

#include "kernel/signal.h"

namespace elfuse {
namespace {

constexpr uint64_t kStrict = 4;  // UC_STRICT_RESTORE_SS

TEST(SigreturnSelectors, UserSelectorsPass) {
  EXPECT_EQ(sigreturn_bad_selector(0x33, 0x2b, kStrict), 0);
  EXPECT_EQ(sigreturn_bad_selector(0x30, 0x28, kStrict), 0);  // RPL forced to 3
  EXPECT_EQ(sigreturn_bad_selector(0x33, 0x2b, 0), 0);
}

TEST(SigreturnSelectors, BadCsFaults) {
  EXPECT_EQ(sigreturn_bad_selector(0, 0x2b, kStrict), 3);
  EXPECT_EQ(sigreturn_bad_selector(0x10, 0x2b, kStrict), 0x13);
  EXPECT_EQ(sigreturn_bad_selector(0x1234, 0x2b, kStrict), 0x1237);
  EXPECT_EQ(sigreturn_bad_selector(0x2b, 0x2b, kStrict), 0x2b);
  // The 32-bit user code selector: Linux runs compat code, elfuse cannot.
  EXPECT_EQ(sigreturn_bad_selector(0x23, 0x2b, kStrict), 0x23);
  // A bad CS is not rescued by the SS fixup.
  EXPECT_EQ(sigreturn_bad_selector(0x10, 0, 0), 0x13);
}

TEST(SigreturnSelectors, BadSsFaultsOnlyWhenStrict) {
  EXPECT_EQ(sigreturn_bad_selector(0x33, 0, kStrict), 3);
  EXPECT_EQ(sigreturn_bad_selector(0x33, 0x10, kStrict), 0x13);
  EXPECT_EQ(sigreturn_bad_selector(0x33, 0x1234, kStrict), 0x1237);
  // force_valid_ss: __USER_DS instead.
  EXPECT_EQ(sigreturn_bad_selector(0x33, 0, 0), 0);
  EXPECT_EQ(sigreturn_bad_selector(0x33, 0x1234, 0), 0);
}

}  // namespace
}  // namespace elfuse
