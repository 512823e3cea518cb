/* One of the small project's translation units (bench/cproj). */
#include "parts.h"
#include <stdio.h>
#include <string.h>

unsigned part2(const char* s) {
  unsigned h = 2;
  char buf[64];
  snprintf(buf, sizeof buf, "%s-%d", s, 2);
  for (size_t k = 0; k < strlen(buf); k++) h = h * 31 + (unsigned char)buf[k];
  return h;
}
