#include <stdlib.h>
#include <string.h>

#include "calc.h"

static void multiply(const int64_t *a, const int64_t *b, int64_t *out, int n, int64_t mod) {
  int64_t *tmp = calloc((size_t)n * n, sizeof *tmp);
  for (int i = 0; i < n; i++)
    for (int k = 0; k < n; k++)
      for (int j = 0; j < n; j++) tmp[i * n + j] = (tmp[i * n + j] + a[i * n + k] * b[k * n + j]) % mod;
  memcpy(out, tmp, (size_t)n * n * sizeof *out);
  free(tmp);
}

void matrix_power(const int64_t *m, int64_t *out, int n, unsigned power, int64_t mod) {
  int64_t *base = malloc((size_t)n * n * sizeof *base);
  memcpy(base, m, (size_t)n * n * sizeof *base);
  for (int i = 0; i < n * n; i++) out[i] = (i % (n + 1) == 0);
  while (power) {
    if (power & 1) multiply(out, base, out, n, mod);
    power >>= 1;
    if (power) multiply(base, base, base, n, mod);
  }
  free(base);
}
