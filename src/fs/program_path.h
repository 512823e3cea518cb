// Finding the program to run, as execvp(3) does for a name without a slash.
#pragma once

#include <string>

#include "base/result.h"

namespace elfuse {

// A name containing '/' is used as is. Otherwise each PATH entry is tried
// in order (an empty entry means the current directory); the first regular
// file that is executable wins. ENOENT when nothing matches, EACCES when a
// match exists but is not executable.
Result<std::string> resolve_program(const std::string& name, const char* path_env);

}  // namespace elfuse
