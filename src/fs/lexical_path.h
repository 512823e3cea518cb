// Splitting a path into components with `.` and `..` taken lexically (no
// symlink is followed): what the /proc and /dev, /sys checks need before
// any lookup happens.
#pragma once

#include <string>
#include <vector>

namespace elfuse {

// "/a/./b//../c" -> {"a", "c"}; `..` above the first component is dropped,
// as at the root.
inline std::vector<std::string> lexical_components(const std::string& path) {
  std::vector<std::string> parts;
  size_t p = 0;
  while (p < path.size()) {
    size_t slash = path.find('/', p);
    if (slash == std::string::npos) slash = path.size();
    std::string comp = path.substr(p, slash - p);
    p = slash + 1;
    if (comp.empty() || comp == ".") continue;
    if (comp == "..") {
      if (!parts.empty()) parts.pop_back();
      continue;
    }
    parts.push_back(std::move(comp));
  }
  return parts;
}

}  // namespace elfuse
