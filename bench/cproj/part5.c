/* One of the small project's translation units (bench/cproj). */
#include "parts.h"
#include <stdio.h>
#include <string.h>

unsigned part5(const char* s) {
  unsigned h = 5;
  char buf[64];
  snprintf(buf, sizeof buf, "%s-%d", s, 5);
  for (size_t k = 0; k < strlen(buf); k++) h = h * 31 + (unsigned char)buf[k];
  return h;
}
