// cli/options: every form of elfuse's options, the sandbox controls' values,
// and the refusals (a hostile or mistyped command line gets a message and
// exit 2, never a half-parsed run); sandbox/supervisor's pure parts: the
// report's JSON and the walk of the sandbox's process tree.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "cli/options.h"
#include "sandbox/supervisor.h"

namespace elfuse {
namespace {

using Action = ParsedCommandLine::Action;

ParsedCommandLine parse(std::vector<std::string> args) {
  return parse_options(args);
}

TEST(Options, NoOptionIsTheOldDefault) {
  ParsedCommandLine r = parse({"prog", "--env", "A=B"});
  ASSERT_EQ(r.action, Action::kRun);
  EXPECT_EQ(r.options.argv, (std::vector<std::string>{"prog", "--env", "A=B"}));
  EXPECT_TRUE(r.options.env.empty());
  EXPECT_FALSE(r.options.clear_env);
  EXPECT_FALSE(r.options.timeout_ns || r.options.cpu_time_s || r.options.max_file_size ||
               r.options.nofile);
  EXPECT_FALSE(r.options.supervised());
  EXPECT_EQ(parse({}).action, Action::kUsage);
  EXPECT_EQ(parse({"--no-aslr"}).action, Action::kUsage);
}

TEST(Options, OldOptionsAsBefore) {
  ParsedCommandLine r = parse(
      {"--trace=t", "--no-aslr", "--no-vdso", "--sysroot", "/r", "--backend=pvm", "--", "-x"});
  ASSERT_EQ(r.action, Action::kRun);
  EXPECT_TRUE(r.options.trace);
  EXPECT_EQ(r.options.trace_file, "t");
  EXPECT_TRUE(r.options.no_aslr && r.options.no_vdso);
  EXPECT_EQ(r.options.sysroot, "/r");
  EXPECT_EQ(r.options.backend, Backend::kPvm);
  EXPECT_EQ(r.options.argv, std::vector<std::string>{"-x"});
  EXPECT_EQ(parse({"--backend", "hw", "p"}).options.backend, Backend::kHardware);
  EXPECT_EQ(parse({"--help", "--bogus"}).action, Action::kHelp);
  EXPECT_EQ(parse({"--version"}).action, Action::kVersion);
  EXPECT_EQ(parse({"--sysroot="}).error, "--sysroot needs a directory (see elfuse --help)");
  EXPECT_EQ(parse({"--backend=x", "p"}).error,
            "--backend needs pvm, hardware or auto (see elfuse --help)");
  EXPECT_EQ(parse({"--frobnicate", "p"}).error,
            "unknown option '--frobnicate' (see elfuse --help)");
}

TEST(Options, SandboxValuesBothForms) {
  ParsedCommandLine r = parse({"--env", "A=1", "--env=B=x=y", "--clear-env", "--workdir=/w",
                               "--timeout", "1.5", "--cpu-time=3", "--max-file-size", "4K",
                               "--nofile=64", "--report", "r.json", "prog", "arg"});
  ASSERT_EQ(r.action, Action::kRun) << r.error;
  const Options& o = r.options;
  EXPECT_EQ(o.env, (std::vector<std::string>{"A=1", "B=x=y"}));
  EXPECT_TRUE(o.clear_env);
  EXPECT_EQ(o.workdir, "/w");
  EXPECT_EQ(o.timeout_ns, 1500000000ull);
  EXPECT_EQ(o.cpu_time_s, 3u);
  EXPECT_EQ(o.max_file_size, 4096u);
  EXPECT_EQ(o.nofile, 64u);
  EXPECT_EQ(o.report, "r.json");
  EXPECT_TRUE(o.supervised());
  EXPECT_EQ(o.argv, (std::vector<std::string>{"prog", "arg"}));
}

TEST(Options, Durations) {
  auto ns = [](const char* v) { return parse({"--timeout", v, "p"}).options.timeout_ns; };
  EXPECT_EQ(ns("2"), 2000000000ull);
  EXPECT_EQ(ns(".25"), 250000000ull);
  EXPECT_EQ(ns("3s"), 3000000000ull);
  EXPECT_EQ(ns("1.5m"), 90000000000ull);
  EXPECT_EQ(ns("1h"), 3600000000000ull);
  EXPECT_EQ(ns("2d"), 172800000000000ull);
  for (const char* bad :
       {"", "0", "0.0", "-1", "1x", "s", ".", "1.2.3", "1e3", " 1", "99999999999"})
    EXPECT_EQ(parse({"--timeout", bad, "p"}).action, Action::kError) << bad;
  EXPECT_EQ(parse({"--timeout"}).action, Action::kError);
}

TEST(Options, SizesAndCounts) {
  auto size = [](const char* v) {
    return parse({"--max-file-size", v, "p"}).options.max_file_size;
  };
  EXPECT_EQ(size("0"), 0u);
  EXPECT_EQ(size("1000"), 1000u);
  EXPECT_EQ(size("2k"), 2048u);
  EXPECT_EQ(size("3M"), 3u << 20);
  EXPECT_EQ(size("1G"), 1ull << 30);
  EXPECT_EQ(size("1T"), 1ull << 40);
  for (const char* bad : {"", "K", "-1", "1.5M", "1P", "99999999999999999999", "16777216T"})
    EXPECT_EQ(parse({"--max-file-size", bad, "p"}).action, Action::kError) << bad;
  EXPECT_EQ(parse({"--nofile", "0", "p"}).options.nofile, 0u);
  for (const char* bad : {"", "x", "-3", "2147483648"})
    EXPECT_EQ(parse({"--nofile", bad, "p"}).action, Action::kError) << bad;
  for (const char* bad : {"", "0", "1.5", "-1"})
    EXPECT_EQ(parse({"--cpu-time", bad, "p"}).action, Action::kError) << bad;
}

TEST(Options, RefusalsSayWhy) {
  EXPECT_EQ(parse({"--env", "NOEQUALS", "p"}).error,
            "--env needs NAME=VALUE, not 'NOEQUALS' (see elfuse --help)");
  EXPECT_EQ(parse({"--env", "=v", "p"}).action, Action::kError);
  EXPECT_EQ(parse({"--env"}).error, "--env needs NAME=VALUE (see elfuse --help)");
  EXPECT_EQ(parse({"--workdir="}).error, "--workdir needs a directory (see elfuse --help)");
  EXPECT_EQ(parse({"--report="}).error, "--report needs a file name (see elfuse --help)");
  EXPECT_EQ(parse({"--timeout", "soon", "p"}).error,
            "--timeout needs a number of seconds above 0 (a fraction and a unit s, m, h or d "
            "allowed), not 'soon' (see elfuse --help)");
  EXPECT_EQ(parse({"--clear-env=1", "p"}).action, Action::kError);
}

TEST(Options, GuestEnvironmentAsEnv) {
  std::vector<std::string> host = {"A=1", "PATH=/bin", "B=2"};
  EXPECT_EQ(guest_environment(host, false, {}), host);
  EXPECT_EQ(guest_environment(host, false, {"PATH=/x", "C=3", "A=0"}),
            (std::vector<std::string>{"A=0", "PATH=/x", "B=2", "C=3"}));
  EXPECT_EQ(guest_environment(host, true, {"C=3", "C=4"}), std::vector<std::string>{"C=4"});
  EXPECT_TRUE(guest_environment(host, true, {}).empty());
  // A name that is a prefix of another is not it.
  EXPECT_EQ(guest_environment({"AB=1"}, false, {"A=2"}), (std::vector<std::string>{"AB=1", "A=2"}));
}

TEST(Sandbox, ReportJson) {
  sandbox::RunRecord r;
  r.signal = 9;
  r.elfuse_status = 124;
  r.limit = "timeout";
  r.wall_s = 1.5;
  r.processes = 3;
  std::string j = sandbox::report_json(r);
  EXPECT_NE(j.find("\"exit_status\": null,"), std::string::npos) << j;
  EXPECT_NE(j.find("\"signal\": 9,"), std::string::npos) << j;
  EXPECT_NE(j.find("\"elfuse_status\": 124,"), std::string::npos) << j;
  EXPECT_NE(j.find("\"limit\": \"timeout\","), std::string::npos) << j;
  EXPECT_NE(j.find("\"wall_time_s\": 1.500000,"), std::string::npos) << j;
  EXPECT_NE(j.find("\"processes\": 3\n}"), std::string::npos) << j;
}

TEST(Sandbox, DescendantsOfTheSupervisorOnly) {
  // 10 is the supervisor; 11 its child, 12 and 13 below 11, 14 an orphan
  // reparented to 10; 20 and 21 are other host processes; a stale cycle
  // (30 <-> 31) must not loop.
  std::vector<std::pair<pid_t, pid_t>> procs = {{1, 0},   {10, 1}, {11, 10}, {12, 11}, {13, 12},
                                                {14, 10}, {20, 1}, {21, 20}, {30, 31}, {31, 30}};
  auto d = sandbox::descendants(10, procs);
  std::sort(d.begin(), d.end());
  EXPECT_EQ(d, (std::vector<std::pair<pid_t, pid_t>>{{11, 10}, {12, 11}, {13, 12}, {14, 10}}));
  EXPECT_TRUE(sandbox::descendants(99, procs).empty());
}

}  // namespace
}  // namespace elfuse
