#include <stdlib.h>

#include "calc.h"

size_t sieve(uint32_t limit, uint32_t *out, size_t max) {
  unsigned char *composite = calloc(limit + 1, 1);
  size_t n = 0;
  for (uint32_t i = 2; i <= limit; i++) {
    if (composite[i]) continue;
    if (n < max) out[n] = i;
    n++;
    for (uint64_t j = (uint64_t)i * i; j <= limit; j += i) composite[j] = 1;
  }
  free(composite);
  return n;
}
