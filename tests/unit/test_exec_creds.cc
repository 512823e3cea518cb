#include <gtest/gtest.h>

#include "kernel/exec_creds.h"

namespace elfuse {
namespace {

constexpr uint64_t kAll = (uint64_t{1} << 41) - 1;  // CAP_LAST_CAP 40
constexpr uint64_t kDacOverride = 2;

TEST(ExecCreds, RootKeepsEverything) {
  ExecCredsInput in;
  in.permitted = in.effective = in.bounding = kAll;
  ExecCredsResult r = exec_capabilities(in);
  EXPECT_EQ(r.permitted, kAll);
  EXPECT_EQ(r.effective, kAll);
  EXPECT_EQ(r.ambient, 0u);
  EXPECT_FALSE(r.secure);
}

TEST(ExecCreds, NonRootWithKeepcapsLosesAll) {
  // setpriv --reuid: keepcaps, setresuid, capset pE = pP.
  ExecCredsInput in;
  in.permitted = in.effective = in.bounding = kAll;
  in.ruid = in.euid = 65534;
  ExecCredsResult r = exec_capabilities(in);
  EXPECT_EQ(r.permitted, 0u);
  EXPECT_EQ(r.effective, 0u);
  EXPECT_FALSE(r.secure);
}

TEST(ExecCreds, NonRootKeepsAmbient) {
  ExecCredsInput in;
  in.permitted = in.bounding = kAll;
  in.inheritable = in.ambient = kDacOverride;
  in.ruid = in.euid = 65534;
  ExecCredsResult r = exec_capabilities(in);
  EXPECT_EQ(r.permitted, kDacOverride);
  EXPECT_EQ(r.effective, kDacOverride);
  EXPECT_EQ(r.ambient, kDacOverride);
  EXPECT_FALSE(r.secure);
}

TEST(ExecCreds, EffectiveRootIsSecureForNonRootRealUid) {
  ExecCredsInput in;
  in.permitted = in.effective = in.bounding = kAll;
  in.ruid = 65534;
  in.euid = 0;
  ExecCredsResult r = exec_capabilities(in);
  EXPECT_EQ(r.permitted, kAll);
  EXPECT_EQ(r.effective, kAll);
  EXPECT_TRUE(r.secure);
}

TEST(ExecCreds, RealRootOnlyGetsNoEffective) {
  ExecCredsInput in;
  in.permitted = in.bounding = kAll;
  in.ruid = 0;
  in.euid = 1000;
  ExecCredsResult r = exec_capabilities(in);
  EXPECT_EQ(r.permitted, kAll);
  EXPECT_EQ(r.effective, 0u);
  EXPECT_FALSE(r.secure);
}

TEST(ExecCreds, NoRootSecurebit) {
  ExecCredsInput in;
  in.permitted = in.effective = in.bounding = kAll;
  in.noroot = true;
  ExecCredsResult r = exec_capabilities(in);
  EXPECT_EQ(r.permitted, 0u);
  EXPECT_EQ(r.effective, 0u);
}

TEST(ExecCreds, RootRegainsBoundingUnlessNoNewPrivs) {
  ExecCredsInput in;
  in.permitted = in.effective = kDacOverride;
  in.bounding = kAll;
  EXPECT_EQ(exec_capabilities(in).permitted, kAll);
  in.no_new_privs = true;
  EXPECT_EQ(exec_capabilities(in).permitted, kDacOverride);
  EXPECT_EQ(exec_capabilities(in).effective, kDacOverride);
}

}  // namespace
}  // namespace elfuse
