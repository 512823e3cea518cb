#include "fs/program_path.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

namespace elfuse {

Result<std::string> resolve_program(const std::string& name, const char* path_env) {
  if (name.empty()) return Errno{ENOENT};
  if (name.find('/') != std::string::npos) return name;
  // execvp(3): without PATH, the default search path.
  std::string path = path_env ? path_env : "/usr/local/bin:/bin:/usr/bin";
  bool saw_eacces = false;
  size_t begin = 0;
  for (;;) {
    size_t end = path.find(':', begin);
    std::string dir =
        path.substr(begin, end == std::string::npos ? std::string::npos : end - begin);
    std::string candidate = (dir.empty() ? std::string(".") : dir) + "/" + name;
    struct stat st;
    if (stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
      if (access(candidate.c_str(), X_OK) == 0) return candidate;
      saw_eacces = true;
    }
    if (end == std::string::npos) break;
    begin = end + 1;
  }
  return Errno{saw_eacces ? EACCES : ENOENT};
}

}  // namespace elfuse
