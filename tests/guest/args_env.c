// argv, the environment and the auxiliary vector as the kernel builds them.
#include <stdlib.h>
#include <sys/auxv.h>
#include <unistd.h>

#include "common.h"

#ifndef AT_MINSIGSTKSZ
#define AT_MINSIGSTKSZ 51
#endif

extern char** environ;
extern char _start[];

static void aux_str(const char* name, unsigned long type) {
  const char* s = (const char*)getauxval(type);
  printf("%s = %s\n", name, s ? s : "(null)");
}

int main(int argc, char** argv) {
  printf("argc = %d\n", argc);
  for (int i = 0; i < argc; i++) printf("argv[%d] = [%s]\n", i, argv[i]);
  CHECK(argv[argc] == NULL);

  int n = 0;
  for (char** e = environ; *e; e++) n++;
  printf("environ has %d entries\n", n);
  const char* vars[] = {"PATH", "HOME", "LANG", "TERM", "ELFUSE_NOT_SET"};
  for (unsigned i = 0; i < sizeof vars / sizeof vars[0]; i++) {
    const char* v = getenv(vars[i]);
    printf("getenv(%s) = %s\n", vars[i], v ? v : "(unset)");
  }

  printf("AT_PAGESZ = %lu\n", getauxval(AT_PAGESZ));
  printf("AT_UID = %lu\n", getauxval(AT_UID));
  printf("AT_EUID = %lu\n", getauxval(AT_EUID));
  printf("AT_GID = %lu\n", getauxval(AT_GID));
  printf("AT_EGID = %lu\n", getauxval(AT_EGID));
  printf("AT_SECURE = %lu\n", getauxval(AT_SECURE));
  printf("AT_CLKTCK = %lu\n", getauxval(AT_CLKTCK));
  printf("AT_PHNUM = %lu\n", getauxval(AT_PHNUM));
  printf("AT_PHENT = %lu\n", getauxval(AT_PHENT));
  CHECK(getauxval(AT_HWCAP) != 0);
  CHECK(getauxval(AT_RANDOM) != 0);
  CHECK(getauxval(AT_PHDR) != 0);
  CHECK(getauxval(AT_ENTRY) == (unsigned long)_start);
  CHECK(getauxval(AT_UID) == getuid());
  CHECK(getauxval(AT_MINSIGSTKSZ) != 0);
  aux_str("AT_PLATFORM", AT_PLATFORM);
  aux_str("AT_EXECFN", AT_EXECFN);
  CHECK(strcmp((const char*)getauxval(AT_EXECFN), argv[0]) == 0);

  // The 16 random bytes: not printed, but they must be readable.
  const unsigned char* r = (const unsigned char*)getauxval(AT_RANDOM);
  unsigned sum = 0;
  for (int i = 0; i < 16; i++) sum += r[i];
  (void)sum;
  printf("AT_RANDOM readable\n");
  return 0;
}
