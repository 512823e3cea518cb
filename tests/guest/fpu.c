// Floating point: the initial x87 and SSE state, double math, SSE intrinsics,
// rounding modes and exception flags. Results are printed exactly (%a).
#include <emmintrin.h>
#include <fenv.h>
#include <math.h>
#include <stdint.h>
#include <xmmintrin.h>

#include "common.h"

static volatile double vzero = 0.0, vone = 1.0, vthree = 3.0;

int main(void) {
  // The state a new process starts with (the ABI says: x87 CW 0x37f, MXCSR 0x1f80).
  uint16_t cw;
  __asm__ volatile("fnstcw %0" : "=m"(cw));
  printf("x87 control word = %#x\n", cw);
  printf("MXCSR = %#x\n", _mm_getcsr());
  printf("fetestexcept(FE_ALL_EXCEPT) = %#x\n", fetestexcept(FE_ALL_EXCEPT));
  printf("fegetround = %d (FE_TONEAREST = %d)\n", fegetround(), FE_TONEAREST);

  double x = 2.0;
  printf("sqrt(2) = %a\n", sqrt(x));
  printf("sin(1) = %a cos(1) = %a\n", sin(vone), cos(vone));
  printf("exp(1) = %a log(3) = %a\n", exp(vone), log(vthree));
  printf("pow(3, 0.5) = %a\n", pow(vthree, 0.5));
  printf("fma(1/3, 3, -1) = %a\n", fma(vone / vthree, vthree, -vone));
  printf("atan2(1, 3) = %a\n", atan2(vone, vthree));
  double acc = 0;
  for (int i = 1; i <= 100000; i++) acc += 1.0 / ((double)i * i);
  printf("sum 1/i^2 = %.17g\n", acc);
  long double ld = 1.0L / (long double)vthree;
  printf("long double 1/3 = %La\n", ld);

  // SSE and SSE2 arithmetic.
  __m128 a = _mm_set_ps(4.0f, 3.0f, 2.0f, 1.0f), b = _mm_set1_ps(0.5f);
  float f[4];
  _mm_storeu_ps(f, _mm_add_ps(_mm_mul_ps(a, b), _mm_sqrt_ps(a)));
  printf("sse ps = %a %a %a %a\n", f[0], f[1], f[2], f[3]);
  __m128d d = _mm_div_pd(_mm_set_pd(2.0, 1.0), _mm_set1_pd((double)vthree));
  double dd[2];
  _mm_storeu_pd(dd, d);
  printf("sse2 pd = %a %a\n", dd[0], dd[1]);
  __m128i i32 = _mm_mullo_epi16(_mm_set1_epi16(300), _mm_set1_epi16(300));
  printf("sse2 epi16 = %d\n", (int16_t)_mm_extract_epi16(i32, 0));

  // Exceptions: flags are raised and cleared.
  feclearexcept(FE_ALL_EXCEPT);
  volatile double q = vone / vzero;
  printf("1/0 = %f, FE_DIVBYZERO = %d\n", q, fetestexcept(FE_DIVBYZERO) != 0);
  q = vzero / vzero;
  printf("0/0 is nan = %d, FE_INVALID = %d\n", isnan(q), fetestexcept(FE_INVALID) != 0);
  q = vone / vthree;
  printf("1/3 FE_INEXACT = %d\n", fetestexcept(FE_INEXACT) != 0);
  feclearexcept(FE_ALL_EXCEPT);
  printf("after feclearexcept = %#x\n", fetestexcept(FE_ALL_EXCEPT));

  // Rounding modes change results.
  int modes[] = {FE_TONEAREST, FE_UPWARD, FE_DOWNWARD, FE_TOWARDZERO};
  for (int m = 0; m < 4; m++) {
    fesetround(modes[m]);
    volatile double r = vone / vthree;
    volatile float rf = (float)vone / (float)vthree;
    printf("mode %d: 1/3 = %a (float %a) rint(2.5) = %g\n", m, r, rf, rint(2.5));
  }
  fesetround(FE_TONEAREST);
  printf("MXCSR at the end = %#x\n", _mm_getcsr() & ~0x3fu);
  return 0;
}
