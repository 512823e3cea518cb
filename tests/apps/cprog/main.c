/* calc: reads a text on stdin and prints its word counts, then Fibonacci
   numbers by matrix power and a prime count. Exits 3 without an argument. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calc.h"

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: calc N < text\n");
    return 3;
  }
  int top = atoi(argv[1]);

  static char text[1 << 16];
  size_t len = fread(text, 1, sizeof text - 1, stdin);
  text[len] = '\0';
  struct word_count counts[256];
  size_t words = word_frequencies(text, counts, 256);

  struct strbuf sb;
  strbuf_init(&sb);
  strbuf_addf(&sb, "%zu distinct words;", words);
  for (int i = 0; i < top && (size_t)i < words; i++) strbuf_addf(&sb, " %s=%d", counts[i].word, counts[i].count);
  puts(sb.data);
  strbuf_free(&sb);

  const int64_t fib[4] = {1, 1, 1, 0};
  int64_t out[4];
  for (unsigned k = 10; k <= 90; k += 40) {
    matrix_power(fib, out, 2, k, INT64_MAX);
    printf("fib(%u) = %lld\n", k, (long long)out[1]);
  }
  matrix_power(fib, out, 2, 1000000, 1000000007);
  printf("fib(1000000) mod 1e9+7 = %lld\n", (long long)out[1]);

  uint32_t first[10];
  size_t n = sieve(1000000, first, 10);
  printf("%zu primes below 1e6, first:", n);
  for (int i = 0; i < 10; i++) printf(" %u", first[i]);
  printf("\n");
  return 0;
}
