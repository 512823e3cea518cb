// /proc/self/smaps_rollup (fs/proc/task_mmu.c show_smaps_rollup): the
// header spans the first mapping's start to the last one's end (the
// [vsyscall] gate page is not part of the mm), the fields are those of
// smaps with the rollup's Pss_Anon/Pss_File/Pss_Shmem, in the kernel's
// order, and Rss and Anonymous are the sums of smaps' (the reads themselves
// touch a few pages: within 64 kB of the sums read before and after).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

static unsigned long sum_smaps(const char* key, unsigned long* first, unsigned long* last) {
  FILE* f = fopen("/proc/self/smaps", "r");
  char line[512];
  unsigned long total = 0, kb, s, e;
  size_t klen = strlen(key);
  *first = 0;
  while (fgets(line, sizeof line, f)) {
    if (sscanf(line, "%lx-%lx ", &s, &e) == 2 && strchr(line, '-') < strchr(line, ' ')) {
      if (strstr(line, "[vsyscall]")) continue;
      if (!*first) *first = s;
      *last = e;
    } else if (!strncmp(line, key, klen) && line[klen] == ':' &&
               sscanf(line + klen + 1, "%lu", &kb) == 1) {
      total += kb;
    }
  }
  fclose(f);
  return total;
}

static int near(unsigned long kb, unsigned long a, unsigned long b) {
  unsigned long lo = a < b ? a : b, hi = a < b ? b : a;
  return kb + 64 >= lo && kb <= hi + 64;
}

int main(void) {
  static char rollup[4096];
  unsigned long first, last;
  unsigned long rss0 = sum_smaps("Rss", &first, &last);
  unsigned long anon0 = sum_smaps("Anonymous", &first, &last);
  FILE* f = fopen("/proc/self/smaps_rollup", "r");
  if (!f) {
    printf("open smaps_rollup: %s\n", errname(errno));
    return 1;
  }
  size_t n = fread(rollup, 1, sizeof rollup - 1, f);
  rollup[n] = 0;
  fclose(f);
  unsigned long rss1 = sum_smaps("Rss", &first, &last);
  unsigned long anon1 = sum_smaps("Anonymous", &first, &last);
  unsigned long s = 0, e = 0;
  int hdr = sscanf(rollup, "%lx-%lx ---p 00000000 00:00 0", &s, &e);
  printf("header: %d fields, start %s, end %s, [rollup] at column %ld\n", hdr,
         s == first ? "= first mapping" : "differs", e == last ? "= last mapping's end" : "differs",
         strstr(rollup, "[rollup]") ? (long)(strstr(rollup, "[rollup]") - rollup) : -1L);
  // The field names in order, and the sums.
  char* line = strchr(rollup, '\n');
  while (line && line[1]) {
    char name[64];
    unsigned long kb;
    if (sscanf(line + 1, "%63[^:]: %lu kB", name, &kb) == 2) {
      if (!strcmp(name, "Rss"))
        printf("Rss: %s\n", near(kb, rss0, rss1) ? "the sum of smaps" : "differs from smaps");
      else if (!strcmp(name, "Anonymous"))
        printf("Anonymous: %s\n",
               near(kb, anon0, anon1) ? "the sum of smaps" : "differs from smaps");
      else
        printf("%s\n", name);
    }
    line = strchr(line + 1, '\n');
  }
  return 0;
}
