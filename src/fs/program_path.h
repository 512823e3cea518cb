// Finding the program to run, as execvp(3) does for a name without a slash.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "base/result.h"

namespace elfuse {

// The names execvp(3) tries for `name`, in order: `name` itself when it
// contains a '/'; otherwise "DIR/name" for each PATH entry, and plain
// "name" (the cwd) for an empty entry. PATH unset: glibc's default,
// confstr(_CS_PATH) = "/bin:/usr/bin". Empty name: none (ENOENT).
std::vector<std::string> program_candidates(const std::string& name, const char* path_env);

// glibc's __execvpe loop: `try_exec(candidate)` returns 0 (found: stop) or
// the errno execve gave. EACCES is remembered and the search goes on;
// ENOENT, ESTALE, ENOTDIR, ENODEV and ETIMEDOUT go on; any other errno
// ends the search with that errno. At the end: EACCES if one was seen,
// otherwise the last errno (ENOENT when there was no candidate).
// Returns the candidate that succeeded.
Result<std::string> search_program(const std::string& name, const char* path_env,
                                   const std::function<int(const std::string&)>& try_exec);

}  // namespace elfuse
