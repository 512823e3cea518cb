// A transcription of load_script() in fs/binfmt_script.c (Linux 5.1+),
// pointer for pointer, so that every odd line (no newline, NULs, tabs,
// trailing blanks, an over-long line) gives the kernel's answer.
#include "kernel/binfmt_script.h"

#include <cerrno>
#include <cstring>

namespace elfuse {
namespace {

bool spacetab(char c) {
  return c == ' ' || c == '\t';
}
// Both scan [first, last] inclusive, as the kernel's helpers do.
const char* next_non_spacetab(const char* first, const char* last) {
  for (; first <= last; first++)
    if (!spacetab(*first)) return first;
  return nullptr;
}
const char* next_terminator(const char* first, const char* last) {
  for (; first <= last; first++)
    if (spacetab(*first) || !*first) return first;
  return nullptr;
}
// lib/string.c strnchr: stops at a NUL.
const char* strnchr(const char* s, size_t count, char c) {
  for (; count-- && *s != '\0'; ++s)
    if (*s == c) return s;
  return nullptr;
}

}  // namespace

bool is_shebang(const char* buf, size_t len) {
  return len >= 2 && buf[0] == '#' && buf[1] == '!';
}

Result<Shebang> parse_shebang(const char (&in)[kBinprmBufSize]) {
  char buf[kBinprmBufSize];
  memcpy(buf, in, sizeof buf);
  if (!is_shebang(buf, sizeof buf)) return Errno{ENOEXEC};
  // We do not want to exec a truncated interpreter path: either a newline
  // ends the line inside the buffer, or a blank/NUL follows the name.
  const char* buf_end = buf + sizeof(buf) - 1;
  const char* i_end = strnchr(buf, sizeof(buf), '\n');
  if (!i_end) {
    i_end = next_non_spacetab(buf + 2, buf_end);
    if (!i_end) return Errno{ENOEXEC};  // entire buf is spaces/tabs
    if (!next_terminator(i_end, buf_end)) return Errno{ENOEXEC};
    i_end = buf_end;
  }
  // Trim trailing spaces/tabs.
  while (spacetab(i_end[-1])) i_end--;
  // Skip leading spaces/tabs.
  const char* i_name = next_non_spacetab(buf + 2, i_end);
  if (!i_name || i_name == i_end) return Errno{ENOEXEC};  // no interpreter name
  // An optional argument: the rest of the line after the first blank run.
  const char* i_arg = nullptr;
  const char* i_sep = next_terminator(i_name, i_end);
  if (i_sep && *i_sep != '\0') i_arg = next_non_spacetab(i_sep, i_end);
  *const_cast<char*>(i_end) = '\0';
  Shebang s;
  if (i_arg) {
    *const_cast<char*>(i_sep) = '\0';
    s.arg = std::string(i_arg);
  }
  s.interp = std::string(i_name);
  return s;
}

std::vector<std::string> script_argv(const Shebang& s, const std::string& filename,
                                     std::vector<std::string> argv) {
  // remove_arg_zero, then the interpreter name, the argument and the file
  // name go in front (the kernel pushes them in reverse order).
  std::vector<std::string> out;
  out.reserve(argv.size() + 2);
  out.push_back(s.interp);
  if (s.arg) out.push_back(*s.arg);
  out.push_back(filename);
  for (size_t i = 1; i < argv.size(); i++) out.push_back(std::move(argv[i]));
  return out;
}

}  // namespace elfuse
