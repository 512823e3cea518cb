#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "calc.h"

static int by_count_then_word(const void *a, const void *b) {
  const struct word_count *x = a, *y = b;
  if (x->count != y->count) return y->count - x->count;
  return strcmp(x->word, y->word);
}

size_t word_frequencies(const char *text, struct word_count *out, size_t max) {
  size_t n = 0;
  const char *p = text;
  while (*p) {
    while (*p && !isalpha((unsigned char)*p)) p++;
    char word[32];
    size_t len = 0;
    while (isalpha((unsigned char)*p)) {
      if (len + 1 < sizeof word) word[len++] = (char)tolower((unsigned char)*p);
      p++;
    }
    if (len == 0) continue;
    word[len] = '\0';
    size_t i;
    for (i = 0; i < n && strcmp(out[i].word, word) != 0; i++) {
    }
    if (i == n) {
      if (n == max) continue;
      strcpy(out[n].word, word);
      out[n++].count = 0;
    }
    out[i].count++;
  }
  qsort(out, n, sizeof *out, by_count_then_word);
  return n;
}
