// Diagnostics on the host's stderr. elfuse's own messages start with "elfuse: ".
#pragma once

#include <cstdarg>
#include <cstdio>

namespace elfuse {

[[gnu::format(printf, 1, 2)]] void log_error(const char* fmt, ...);
// Prints "elfuse: <message>" and exits with status 1 (host-side failures that
// are not the guest's doing).
[[noreturn, gnu::format(printf, 1, 2)]] void fatal(const char* fmt, ...);

}  // namespace elfuse
