#include "base/log.h"

#include <unistd.h>

#include <cstdlib>

namespace elfuse {

static void vlog(const char* fmt, va_list ap) {
  char buf[1024];
  int n = snprintf(buf, sizeof buf, "elfuse: ");
  n += vsnprintf(buf + n, sizeof buf - n, fmt, ap);
  if (n > static_cast<int>(sizeof buf) - 2) n = sizeof buf - 2;
  buf[n++] = '\n';
  (void)!write(2, buf, n);
}

void log_error(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vlog(fmt, ap);
  va_end(ap);
}

void fatal(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vlog(fmt, ap);
  va_end(ap);
  _exit(1);
}

}  // namespace elfuse
