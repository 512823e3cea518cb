#ifndef CALC_H
#define CALC_H

#include <stddef.h>
#include <stdint.h>

/* strbuf.c: a growable string */
struct strbuf {
  char* data;
  size_t len, cap;
};
void strbuf_init(struct strbuf* sb);
void strbuf_addf(struct strbuf* sb, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
void strbuf_free(struct strbuf* sb);

/* wordfreq.c: word counts of a text, most frequent first */
struct word_count {
  char word[32];
  int count;
};
size_t word_frequencies(const char* text, struct word_count* out, size_t max);

/* matrix.c: n x n integer matrices */
void matrix_power(const int64_t* m, int64_t* out, int n, unsigned power, int64_t mod);

/* primes.c */
size_t sieve(uint32_t limit, uint32_t* out, size_t max);

#endif
