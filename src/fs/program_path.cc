#include "fs/program_path.h"

#include <cerrno>
#include <vector>

namespace elfuse {

std::vector<std::string> program_candidates(const std::string& name, const char* path_env) {
  if (name.empty()) return {};
  if (name.find('/') != std::string::npos) return {name};
  // posix/execvpe.c: CS_PATH when PATH is unset.
  std::string path = path_env ? path_env : "/bin:/usr/bin";
  std::vector<std::string> out;
  size_t begin = 0;
  for (;;) {
    size_t end = path.find(':', begin);
    std::string dir =
        path.substr(begin, end == std::string::npos ? std::string::npos : end - begin);
    // An empty entry is the cwd: execvpe copies the name with no "/" before it.
    out.push_back(dir.empty() ? name : dir + "/" + name);
    if (end == std::string::npos) break;
    begin = end + 1;
  }
  return out;
}

Result<std::string> search_program(const std::string& name, const char* path_env,
                                   const std::function<int(const std::string&)>& try_exec) {
  std::vector<std::string> candidates = program_candidates(name, path_env);
  if (candidates.empty()) return Errno{ENOENT};
  bool got_eacces = false;
  int last = ENOENT;
  for (const std::string& c : candidates) {
    int err = try_exec(c);
    if (err == 0) return c;
    last = err;
    switch (err) {
      case EACCES:
        got_eacces = true;
        break;
      case ENOENT:
      case ESTALE:
      case ENOTDIR:
      case ENODEV:
      case ETIMEDOUT:
        break;
      default:
        return Errno{err};
    }
  }
  return Errno{got_eacces ? EACCES : last};
}

}  // namespace elfuse
