// The libc's string functions over many sizes and alignments, checked against
// simple loops. glibc picks SSE2/AVX2/AVX-512/ERMS variants by CPUID (ifuncs), so
// this runs whichever the CPU, as elfuse presents it, makes glibc choose.
#include <stdint.h>
#include <stdlib.h>

#include "common.h"

static unsigned char src[1 << 20], dst[(1 << 20) + 128], ref[(1 << 20) + 128];
static long checks, failures;

static void fail(const char* what, long size, int align) {
  if (failures++ < 20) printf("FAIL %s size=%ld align=%d\n", what, size, align);
}

static void check_size(long n, int sa, int da) {
  if (n < 0 || n > (1L << 19) + 64) return;  // never; tells the compiler the bounds
  checks++;
  // memcpy
  memset(dst, 0xee, n + da + 64);
  memcpy(dst + da, src + sa, n);
  for (long i = 0; i < n; i++)
    if (dst[da + i] != src[sa + i]) {
      fail("memcpy", n, da);
      break;
    }
  for (int i = 0; i < 64; i++)
    if (dst[da + n + i] != 0xee) {
      fail("memcpy overrun", n, da);
      break;
    }
  // memset
  memset(dst + da, n & 0xff, n);
  for (long i = 0; i < n; i++)
    if (dst[da + i] != (n & 0xff)) {
      fail("memset", n, da);
      break;
    }
  if (dst[da + n] != 0xee) fail("memset overrun", n, da);
  // memcmp: equal, then one byte different at the end
  memcpy(ref + sa, src + sa, n);
  if (memcmp(ref + sa, src + sa, n) != 0) fail("memcmp equal", n, sa);
  if (n > 0) {
    ref[sa + n - 1] ^= 1;
    int c = memcmp(ref + sa, src + sa, n);
    int want = ref[sa + n - 1] < src[sa + n - 1] ? -1 : 1;
    if ((c < 0 ? -1 : c > 0) != want) fail("memcmp differ", n, sa);
  }
  // memmove, overlapping both ways
  memcpy(ref, src, n + 64);
  memmove(ref + 7, ref, n);
  for (long i = 0; i < n; i++)
    if (ref[7 + i] != src[i]) {
      fail("memmove forward", n, 7);
      break;
    }
  memcpy(ref, src, n + 64);
  memmove(ref, ref + 5, n);
  for (long i = 0; i < n; i++)
    if (ref[i] != src[5 + i]) {
      fail("memmove backward", n, 5);
      break;
    }
  // strlen, strchr, memchr, strrchr: a string of n 'a's with one 'b' in the middle
  char* s = (char*)dst + da;
  memset(s, 'a', n);
  s[n] = 0;
  if (n > 0) s[n / 2] = 'b';
  if ((long)strlen(s) != n) fail("strlen", n, da);
  char* want_b = n > 0 ? s + n / 2 : NULL;
  if (strchr(s, 'b') != want_b) fail("strchr", n, da);
  if (strchr(s, 0) != s + n) fail("strchr nul", n, da);
  if (memchr(s, 'b', n) != want_b) fail("memchr", n, da);
  char* want_a = NULL;  // the last 'a'
  for (long i = n - 1; i >= 0; i--)
    if (s[i] == 'a') {
      want_a = s + i;
      break;
    }
  if (strrchr(s, 'a') != want_a) fail("strrchr", n, da);
  if (strnlen(s, n / 2) != (size_t)(n / 2)) fail("strnlen", n, da);
  // strcmp / strcpy
  char* t = (char*)ref + sa;
  strcpy(t, s);
  if (strcmp(t, s) != 0) fail("strcpy/strcmp", n, sa);
  if (n > 0) {
    t[n - 1] = 'c';
    if (strcmp(t, s) <= 0) fail("strcmp order", n, sa);
    if (strncmp(t, s, n - 1) != 0) fail("strncmp", n, sa);
  }
}

int main(void) {
  for (long i = 0; i < (long)sizeof src; i++) src[i] = (unsigned char)(i * 131 + (i >> 8) + 7);
  for (long n = 0; n <= 300; n++)
    for (int a = 0; a < 64; a += (n < 70 ? 1 : 13)) check_size(n, a, (a * 7) % 64);
  for (long n = 512; n <= (1 << 19); n = n * 2 + 3)
    for (int a = 0; a < 64; a += 21) check_size(n, a, 63 - a);
  printf("string: %ld checks, %ld failures\n", checks, failures);
  return failures != 0;
}
