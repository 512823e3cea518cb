// `#!` line parsing (fs/binfmt_script.c load_script) and the execvp search
// order (fs/program_path.h).
#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>
#include <map>

#include "fs/program_path.h"
#include "kernel/binfmt_script.h"

namespace elfuse {
namespace {

Result<Shebang> parse(const std::string& text) {
  char buf[kBinprmBufSize] = {};
  memcpy(buf, text.data(), std::min(text.size(), sizeof buf));
  return parse_shebang(buf);
}

TEST(BinfmtScript, NameAndOneArgument) {
  auto s = parse("#!/bin/sh\necho\n");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->interp, "/bin/sh");
  EXPECT_FALSE(s->arg.has_value());
  s = parse("#! \t/usr/bin/env  python3 -u  \t\nx");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->interp, "/usr/bin/env");
  EXPECT_EQ(*s->arg, "python3 -u");  // the rest of the line, one argument
}

TEST(BinfmtScript, NoInterpreterIsEnoexec) {
  EXPECT_EQ(parse("#!\n").error(), ENOEXEC);
  EXPECT_EQ(parse("#!   \t\n").error(), ENOEXEC);
  EXPECT_EQ(parse("#!" + std::string(300, ' ')).error(), ENOEXEC);
}

TEST(BinfmtScript, LongLines) {
  // The name ends inside the buffer: the argument is cut at byte 255.
  auto s = parse("#!/bin/x " + std::string(400, 'a') + "\n");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->arg->size(), 255u - 9u);
  // A name that may be truncated: ENOEXEC.
  EXPECT_EQ(parse("#!/" + std::string(400, 'b') + "\n").error(), ENOEXEC);
}

TEST(BinfmtScript, NulEndsTheLine) {
  std::string t = "#!/bin/sh";
  t += '\0';
  t += " junk\n";
  auto s = parse(t);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->interp, "/bin/sh");
  EXPECT_FALSE(s->arg.has_value());
}

TEST(BinfmtScript, Argv) {
  Shebang s{"/bin/sh", std::string("-e")};
  auto v = script_argv(s, "./script", {"ignored", "a", "b"});
  EXPECT_EQ(v, (std::vector<std::string>{"/bin/sh", "-e", "./script", "a", "b"}));
  EXPECT_EQ(script_argv(Shebang{"/i", std::nullopt}, "f", {}),
            (std::vector<std::string>{"/i", "f"}));
}

TEST(ProgramPath, Candidates) {
  EXPECT_TRUE(program_candidates("", "/bin").empty());
  EXPECT_EQ(program_candidates("a/b", "/bin"), (std::vector<std::string>{"a/b"}));
  EXPECT_EQ(program_candidates("ls", "/x::/y"), (std::vector<std::string>{"/x/ls", "ls", "/y/ls"}));
  EXPECT_EQ(program_candidates("ls", nullptr),
            (std::vector<std::string>{"/bin/ls", "/usr/bin/ls"}));
}

TEST(ProgramPath, ExecvpErrnoRules) {
  std::map<std::string, int> result;
  auto try_exec = [&](const std::string& c) { return result.count(c) ? result[c] : ENOENT; };
  result = {{"/a/p", EACCES}, {"/b/p", 0}};
  EXPECT_EQ(*search_program("p", "/a:/b", try_exec), "/b/p");
  result = {{"/a/p", EACCES}};
  EXPECT_EQ(search_program("p", "/a:/b", try_exec).error(), EACCES);
  result = {{"/a/p", ENOEXEC}, {"/b/p", 0}};
  EXPECT_EQ(search_program("p", "/a:/b", try_exec).error(), ENOEXEC);  // stops
  result = {{"/b/p", ENOTDIR}};
  EXPECT_EQ(search_program("p", "/a:/b", try_exec).error(), ENOTDIR);  // the last one
  EXPECT_EQ(search_program("", "/a", try_exec).error(), ENOENT);
}

}  // namespace
}  // namespace elfuse
