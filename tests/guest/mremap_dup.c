// mremap with old_size 0 (mm/mremap.c vma_to_resize): a private mapping
// cannot be duplicated (EINVAL); a shared one cannot grow in place from
// nothing (ENOMEM without MREMAP_MAYMOVE); a range beyond the VMA is EFAULT
// and an unmapped address EFAULT. The mappings stay as they were.
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common.h"

static long remap(void* old, size_t old_len, size_t new_len, int flags) {
  void* r = mremap(old, old_len, new_len, flags);
  return r == MAP_FAILED ? -1 : 0;
}

int main(void) {
  char* shared = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  char* priv = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  char* none = mmap(NULL, 4096, PROT_NONE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  shared[0] = 's';
  priv[0] = 'p';
  OK(remap(shared, 0, 4096, 0));
  OK(remap(shared, 0, 8192, 0));
  OK(remap(none, 0, 4096, 0));
  OK(remap(priv, 0, 4096, 0));
  OK(remap(priv, 0, 4096, MREMAP_MAYMOVE));
  OK(remap(shared, 8192, 16384, 0));
  munmap(none, 4096);
  OK(remap(none, 0, 4096, 0));
  CHECK(shared[0] == 's' && priv[0] == 'p');
  return 0;
}
