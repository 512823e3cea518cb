// `#!` scripts, as the kernel's fs/binfmt_script.c reads them.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"

namespace elfuse {

// include/uapi/linux/binfmts.h BINPRM_BUF_SIZE: the kernel reads this many
// bytes of the file (zero-padded when the file is shorter).
inline constexpr size_t kBinprmBufSize = 256;
// fs/exec.c exec_binprm: `if (depth > 5) return -ELOOP`, depth counting the
// files tried: at most 5 interpreter rewrites (nested scripts) are followed.
inline constexpr int kMaxInterpDepth = 5;

struct Shebang {
  std::string interp;              // the interpreter path, as written
  std::optional<std::string> arg;  // the optional single argument
};

// True when the buffer starts with "#!" (the script handler's claim).
bool is_shebang(const char* buf, size_t len);

// Parses the first kBinprmBufSize bytes of a file that starts with "#!"
// (buf is zero-padded to kBinprmBufSize by the caller). ENOEXEC when the
// line names no interpreter, or when it does not end within the buffer and
// the interpreter name might be truncated (load_script's rules).
Result<Shebang> parse_shebang(const char (&buf)[kBinprmBufSize]);

// load_script's argv: [interp, (arg), filename, argv[1..]], where filename
// is bprm->interp (the name the script was executed by; after a nested
// rewrite, the previous interpreter's path).
std::vector<std::string> script_argv(const Shebang& s, const std::string& filename,
                                     std::vector<std::string> argv);

}  // namespace elfuse
