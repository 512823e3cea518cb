// CPU features as a program sees them: libgcc's __builtin_cpu_supports (CPUID and
// XGETBV) and glibc's own view, which decides the ifunc-selected string functions.
// glibc only: musl has no ifuncs. Under elfuse the answers must equal native ones.
#include <cpuid.h>
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>
#if __has_include(<sys/platform/x86.h>)
#include <sys/platform/x86.h>
#endif

// The implementation glibc's ifunc resolver chose for a string function.
// In a static non-PIE program, taking the function's address reads the GOT
// slot the IRELATIVE relocation filled, i.e. the chosen variant
// (__memmove_avx512_unaligned_erms, __strlen_evex...). The binary is not
// relocated, so equal addresses natively and under elfuse mean the same
// variant was picked.
// In a dynamic program (guest.dynamic.glibc_ifunc) the GOT holds the chosen
// variant's address inside libc.so.6, which ASLR moves: the offset from
// libc's base names the variant instead (dladdr finds no object in a static
// program, which prints the address itself).
static void show_impl(const char* name, const void* fn) {
  Dl_info info;
  if (dladdr(fn, &info) && info.dli_fbase && strstr(info.dli_fname, "libc.so"))
    printf("%s -> libc.so+%#lx\n", name, (unsigned long)((const char*)fn - (const char*)info.dli_fbase));
  else
    printf("%s -> %p\n", name, fn);
}

int main(void) {
  show_impl("memcpy", (const void*)memcpy);
  show_impl("memmove", (const void*)memmove);
  show_impl("memset", (const void*)memset);
  show_impl("memcmp", (const void*)memcmp);
  show_impl("strlen", (const void*)strlen);
  show_impl("strchr", (const void*)strchr);
  show_impl("strcmp", (const void*)strcmp);
  __builtin_cpu_init();
  printf("sse2 %d\n", __builtin_cpu_supports("sse2") != 0);
  printf("sse4.2 %d\n", __builtin_cpu_supports("sse4.2") != 0);
  printf("avx %d\n", __builtin_cpu_supports("avx") != 0);
  printf("avx2 %d\n", __builtin_cpu_supports("avx2") != 0);
  printf("bmi2 %d\n", __builtin_cpu_supports("bmi2") != 0);
  printf("avx512f %d\n", __builtin_cpu_supports("avx512f") != 0);
  printf("avx512bw %d\n", __builtin_cpu_supports("avx512bw") != 0);
  printf("avx512vl %d\n", __builtin_cpu_supports("avx512vl") != 0);

  unsigned a, b, c, d;
  char vendor[13] = {0};
  __cpuid(0, a, b, c, d);
  memcpy(vendor, &b, 4);
  memcpy(vendor + 4, &d, 4);
  memcpy(vendor + 8, &c, 4);
  printf("vendor %s\n", vendor);
  __cpuid(1, a, b, c, d);
  printf("osxsave %d\n", (c >> 27) & 1);
  if ((c >> 27) & 1) {
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    printf("xcr0 %#x\n", lo);
  }

#ifdef CPU_FEATURE_ACTIVE
  printf("glibc active: SSE4_2 %d AVX2 %d ERMS %d AVX512F %d AVX512BW %d RTM %d\n",
         CPU_FEATURE_ACTIVE(SSE4_2) != 0, CPU_FEATURE_ACTIVE(AVX2) != 0,
         CPU_FEATURE_ACTIVE(ERMS) != 0, CPU_FEATURE_ACTIVE(AVX512F) != 0,
         CPU_FEATURE_ACTIVE(AVX512BW) != 0, CPU_FEATURE_ACTIVE(RTM) != 0);
#endif
  return 0;
}
