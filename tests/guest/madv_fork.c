// MADV_WIPEONFORK / MADV_KEEPONFORK / MADV_DONTFORK / MADV_DOFORK
// (mm/madvise.c, kernel/fork.c dup_mmap): a wipe-on-fork range reads as
// zeros in a forked child, a dont-fork range is not mapped in it; the
// flags split and merge VMAs and show in /proc/self/smaps (wf, dc).
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"

#define PG 4096

// The VmFlags tokens of interest of the VMA containing addr.
static void smaps_of(void* addr, const char* tag) {
  FILE* f = fopen("/proc/self/smaps", "re");
  if (!f) return;
  char line[512];
  int in = 0;
  unsigned long a = (unsigned long)addr;
  while (fgets(line, sizeof line, f)) {
    unsigned long s, e;
    if (sscanf(line, "%lx-%lx ", &s, &e) == 2 && strchr(line, '-') < strchr(line, ' ')) {
      in = a >= s && a < e;
      if (in) printf("%s:", tag);
      continue;
    }
    if (in && !strncmp(line, "VmFlags:", 8)) {
      printf(" wf=%s dc=%s\n", strstr(line, " wf") ? "yes" : "no",
             strstr(line, " dc") ? "yes" : "no");
      in = 0;
    }
  }
  fclose(f);
}

static int mapped(void* p) {
  // msync of an unmapped page is ENOMEM.
  return msync(p, PG, MS_ASYNC) == 0;
}

static void in_child(void (*fn)(void*), void* arg) {
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    fn(arg);
    fflush(stdout);
    _exit(0);
  }
  int st;
  waitpid(pid, &st, 0);
  if (!WIFEXITED(st) || WEXITSTATUS(st)) printf("child status %d\n", st);
}

static char* g;  // three pages

static void show_three(void* tag) {
  printf("%s: %c %c %c (mapped %d %d %d)\n", (char*)tag, mapped(g) ? (g[0] ? g[0] : '0') : '-',
         mapped(g + PG) ? (g[PG] ? g[PG] : '0') : '-',
         mapped(g + 2 * PG) ? (g[2 * PG] ? g[2 * PG] : '0') : '-', mapped(g), mapped(g + PG),
         mapped(g + 2 * PG));
}

static void child_smaps(void* tag) {
  smaps_of(g + PG, (char*)tag);
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  g = mmap(NULL, 3 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  memset(g, 'a', PG);
  memset(g + PG, 'b', PG);
  memset(g + 2 * PG, 'c', PG);

  // Wipe on fork: only the middle page reads as zeros in the child.
  OK(madvise(g + PG, PG, MADV_WIPEONFORK));
  smaps_of(g + PG, "wipe middle");
  smaps_of(g, "wipe first");
  in_child(show_three, "wipe child");
  in_child(child_smaps, "wipe child smaps");
  show_three("wipe parent");
  // A grandchild: the flag is inherited by the child's VMA.
  OK(madvise(g + PG, PG, MADV_KEEPONFORK));
  smaps_of(g, "keep merged");
  in_child(show_three, "keep child");

  // A whole-mapping wipe, written after the advice.
  OK(madvise(g, 3 * PG, MADV_WIPEONFORK));
  memset(g, 'x', 3 * PG);
  in_child(show_three, "wipe all child");
  OK(madvise(g, 3 * PG, MADV_KEEPONFORK));

  // Don't fork: the middle page is not mapped in the child.
  OK(madvise(g + PG, PG, MADV_DONTFORK));
  smaps_of(g + PG, "dontfork middle");
  in_child(show_three, "dontfork child");
  OK(madvise(g + PG, PG, MADV_DOFORK));
  in_child(show_three, "dofork child");
  smaps_of(g, "dofork merged");

  // Both on one page: not mapped in the child.
  OK(madvise(g, PG, MADV_WIPEONFORK));
  OK(madvise(g, PG, MADV_DONTFORK));
  in_child(show_three, "both child");
  OK(madvise(g, PG, MADV_DOFORK));
  OK(madvise(g, PG, MADV_KEEPONFORK));

  // Shared anonymous and file mappings: WIPEONFORK is EINVAL, DONTFORK
  // works on them (gVisor MadviseDontforkTest.DontforkShared).
  char* sh = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  sh[0] = 's';
  sh[PG] = 't';
  SHOW(madvise(sh, PG, MADV_WIPEONFORK));
  SHOW(madvise(sh, PG, MADV_KEEPONFORK));
  OK(madvise(sh + PG, PG, MADV_DONTFORK));
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    printf("shared child: %c mapped=%d %d\n", sh[0], mapped(sh), mapped(sh + PG));
    fflush(stdout);
    _exit(0);
  }
  waitpid(pid, NULL, 0);
  char path[] = "/tmp/madv_fork.XXXXXX";
  int fd = mkstemp(path);
  if (fd >= 0) {
    unlink(path);
    if (ftruncate(fd, PG) == 0) {
      char* fm = mmap(NULL, PG, PROT_READ, MAP_PRIVATE, fd, 0);
      SHOW(madvise(fm, PG, MADV_WIPEONFORK));
      OK(madvise(fm, PG, MADV_DONTFORK));
      smaps_of(fm, "file dontfork");
      fflush(stdout);
      pid = fork();
      if (pid == 0) {
        printf("file child: mapped=%d\n", mapped(fm));
        fflush(stdout);
        _exit(0);
      }
      waitpid(pid, NULL, 0);
    }
    close(fd);
  }
  // Unmapped ranges: ENOMEM after doing what it can.
  munmap(g + 2 * PG, PG);
  SHOW(madvise(g + PG, 2 * PG, MADV_WIPEONFORK));
  smaps_of(g + PG, "partial");
  // Advice on a range that is wholly unmapped.
  SHOW(madvise(g + 2 * PG, PG, MADV_DONTFORK));
  return 0;
}
