// The vDSO as mappings: the [vvar], [vvar_vclock] and [vdso] rows of
// /proc/self/maps and smaps, what munmap, mprotect, mremap and madvise do
// to them (special mappings cannot be split or grown; the whole set can be
// moved, as CRIU does, and keeps working), which data pages read and which
// raise SIGBUS, fork keeping them, arch_prctl(ARCH_MAP_VDSO_64) mapping a
// new set, execve mapping a fresh one. Prints offsets and sizes, never
// addresses.
#include <elf.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

#define ARCH_MAP_VDSO_64 0x2003  // asm/prctl.h, which musl-gcc does not see
#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP 4
#endif

struct row {
  uintptr_t start, end;
  char perms[8];
  unsigned long off, ino;
  unsigned dmaj, dmin;
};

// The rows named [vvar], [vvar_vclock] and [vdso] (absent: start 0).
static struct row vvar, vclock, vdso;

static void find_rows(void) {
  memset(&vvar, 0, sizeof vvar);
  memset(&vclock, 0, sizeof vclock);
  memset(&vdso, 0, sizeof vdso);
  FILE* f = fopen("/proc/self/maps", "re");
  char line[512];
  while (f && fgets(line, sizeof line, f)) {
    struct row r;
    int at = 0;
    if (sscanf(line, "%lx-%lx %7s %lx %x:%x %lu %n", &r.start, &r.end, r.perms, &r.off, &r.dmaj,
               &r.dmin, &r.ino, &at) != 7)
      continue;
    char* name = line + at;
    name[strcspn(name, "\n")] = 0;
    if (!strcmp(name, "[vvar]")) vvar = r;
    if (!strcmp(name, "[vvar_vclock]")) vclock = r;
    if (!strcmp(name, "[vdso]")) vdso = r;
  }
  if (f) fclose(f);
}

static void print_row(const char* name, const struct row* r, uintptr_t origin) {
  if (!r->start) {
    printf("  %s: absent\n", name);
    return;
  }
  printf("  %s: %s size %lu at +%ld, offset %lu dev %x:%x inode %lu\n", name, r->perms,
         (unsigned long)(r->end - r->start), (long)(r->start - origin), r->off, r->dmaj, r->dmin,
         r->ino);
}

// The rows relative to the start of the set ([vvar]).
static void show_rows(const char* when) {
  find_rows();
  printf("%s:\n", when);
  uintptr_t origin = vvar.start;
  print_row("[vvar]", &vvar, origin);
  print_row("[vvar_vclock]", &vclock, origin);
  print_row("[vdso]", &vdso, origin);
}

// The VmFlags line (and whether Rss is 0) of the smaps row named `name`.
static void smaps_row(const char* name) {
  FILE* f = fopen("/proc/self/smaps", "re");
  char line[512];
  int in = 0;
  while (f && fgets(line, sizeof line, f)) {
    line[strcspn(line, "\n")] = 0;
    unsigned long a, b;
    int at = 0;
    if (sscanf(line, "%lx-%lx %*s %*x %*x:%*x %*u %n", &a, &b, &at) == 2 && at > 0) {
      in = !strcmp(line + at, name);
      continue;
    }
    if (!in) continue;
    unsigned long kb;
    if (sscanf(line, "Size: %lu kB", &kb) == 1) printf("  %s Size %lu kB\n", name, kb);
    if (!strncmp(line, "VmFlags:", 8)) printf("  %s %s\n", name, line);
    if (!strcmp(name, "[vdso]") && sscanf(line, "Pss: %lu kB", &kb) == 1)
      printf("  %s Pss %lu kB\n", name, kb);
    if (strcmp(name, "[vdso]") && sscanf(line, "Rss: %lu kB", &kb) == 1)
      printf("  %s Rss %lu kB\n", name, kb);
  }
  if (f) fclose(f);
}

typedef long (*clock_gettime_fn)(clockid_t, struct timespec*);

// __vdso_clock_gettime of the vDSO at base (its dynamic symbol table).
static clock_gettime_fn vdso_clock_gettime(uintptr_t base) {
  const Elf64_Ehdr* eh = (const Elf64_Ehdr*)base;
  const Elf64_Phdr* ph = (const Elf64_Phdr*)(base + eh->e_phoff);
  uintptr_t bias = 0, dynv = 0;
  int have = 0;
  for (int i = 0; i < eh->e_phnum; i++) {
    if (ph[i].p_type == PT_LOAD && !have) {
      bias = base + ph[i].p_offset - ph[i].p_vaddr;
      have = 1;
    }
    if (ph[i].p_type == PT_DYNAMIC) dynv = ph[i].p_vaddr;
  }
  const Elf64_Sym* sym = NULL;
  const char* str = NULL;
  const uint32_t* hash = NULL;
  for (const Elf64_Dyn* d = (const Elf64_Dyn*)(dynv + bias); d->d_tag != DT_NULL; d++) {
    if (d->d_tag == DT_SYMTAB) sym = (const Elf64_Sym*)(d->d_un.d_ptr + bias);
    if (d->d_tag == DT_STRTAB) str = (const char*)(d->d_un.d_ptr + bias);
    if (d->d_tag == DT_HASH) hash = (const uint32_t*)(d->d_un.d_ptr + bias);
  }
  for (uint32_t i = 1; sym && str && hash && i < hash[1]; i++)
    if (!strcmp(str + sym[i].st_name, "__vdso_clock_gettime"))
      return (clock_gettime_fn)(sym[i].st_value + bias);
  return NULL;
}

static long long ns(const struct timespec* t) {
  return t->tv_sec * 1000000000LL + t->tv_nsec;
}

// The vDSO at base answers CLOCK_MONOTONIC between two syscall readings.
static void vdso_works(const char* when, uintptr_t base) {
  clock_gettime_fn f = base ? vdso_clock_gettime(base) : NULL;
  if (!f) {
    printf("%s: no __vdso_clock_gettime\n", when);
    return;
  }
  struct timespec a, b, c;
  syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &a);
  long r = f(CLOCK_MONOTONIC, &b);
  syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &c);
  printf("%s: vdso clock_gettime %ld, between syscalls: %s\n", when, r,
         ns(&a) <= ns(&b) && ns(&b) <= ns(&c) ? "yes" : "NO");
}

static sigjmp_buf jump;
static volatile int caught, caught_code;
static volatile uintptr_t caught_addr;

static void on_fault(int sig, siginfo_t* si, void* uc) {
  caught = sig;
  caught_code = si->si_code;
  caught_addr = (uintptr_t)si->si_addr;
  siglongjmp(jump, 1);
}

// Reads one byte at p: "ok", or the signal with its code and the offset
// of si_addr from p.
static void touch(const char* what, const volatile char* p) {
  caught = 0;
  if (sigsetjmp(jump, 1) == 0) (void)*p;
  if (!caught)
    printf("  read %s: ok\n", what);
  else
    printf("  read %s: %s code %d at %+ld\n", what, caught == SIGSEGV ? "SIGSEGV" : "SIGBUS",
           caught_code, (long)(caught_addr - (uintptr_t)p));
}

#define R(expr) (errno = 0, (long)(expr) < 0 ? errname(errno) : "0")

static void refusals(void) {
  find_rows();
  uintptr_t t = vdso.start, v = vvar.start;
  size_t tl = vdso.end - vdso.start, vl = vvar.end - vvar.start;
  printf("refusals:\n");
  printf("  munmap first page of [vdso]: %s\n", R(munmap((void*)t, 4096)));
  printf("  munmap last page of [vdso]: %s\n", R(munmap((void*)(t + tl - 4096), 4096)));
  printf("  munmap second page of [vvar]: %s\n", R(munmap((void*)(v + 4096), 4096)));
  printf("  munmap [vvar] and a page more: %s\n", R(munmap((void*)v, vl + 4096)));
  printf("  mprotect first page of [vvar] PROT_READ (unchanged): %s\n",
         R(mprotect((void*)v, 4096, PROT_READ)));
  printf("  mprotect first page of [vvar] PROT_NONE: %s\n", R(mprotect((void*)v, 4096, PROT_NONE)));
  printf("  mprotect first page of [vdso] PROT_READ|PROT_EXEC (unchanged): %s\n",
         R(mprotect((void*)t, 4096, PROT_READ | PROT_EXEC)));
  printf("  mprotect first page of [vvar] PROT_WRITE: %s\n",
         R(mprotect((void*)v, 4096, PROT_READ | PROT_WRITE)));
  printf("  mprotect [vvar] PROT_WRITE: %s\n", R(mprotect((void*)v, vl, PROT_READ | PROT_WRITE)));
  printf("  mprotect [vvar] PROT_EXEC: %s\n", R(mprotect((void*)v, vl, PROT_READ | PROT_EXEC)));
  printf("  mprotect first page of [vdso]: %s\n", R(mprotect((void*)t, 4096, PROT_READ)));
  printf("  mremap [vdso] larger: %s\n", R((long)mremap((void*)t, tl, tl + 4096, 0)));
  printf("  mremap [vdso] larger, may move: %s\n",
         R((long)mremap((void*)t, tl, tl + 4096, MREMAP_MAYMOVE)));
  printf("  mremap [vdso] smaller: %s\n", R((long)mremap((void*)t, tl, 4096, 0)));
  printf("  mremap [vdso] beyond its end: %s\n", R((long)mremap((void*)t, tl + 4096, tl + 4096, 0)));
  void* spot = mmap(NULL, 1 << 20, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  printf("  mremap [vdso] DONTUNMAP: %s\n",
         R((long)mremap((void*)t, tl, tl, MREMAP_MAYMOVE | MREMAP_DONTUNMAP, spot)));
  printf("  mremap part of [vvar] elsewhere: %s\n",
         R((long)mremap((void*)v, 4096, 4096, MREMAP_MAYMOVE | MREMAP_FIXED, spot)));
  printf("  mmap MAP_FIXED over a page of [vdso]: %s\n",
         R((long)mmap((void*)t, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0)));
  munmap(spot, 1 << 20);
  printf("  madvise [vvar] DONTNEED: %s\n", R(madvise((void*)v, vl, MADV_DONTNEED)));
  printf("  madvise [vvar] DOFORK: %s\n", R(madvise((void*)v, vl, MADV_DOFORK)));
  printf("  madvise [vvar] WILLNEED: %s\n", R(madvise((void*)v, vl, MADV_WILLNEED)));
  printf("  madvise [vdso] DODUMP: %s\n", R(madvise((void*)t, tl, MADV_DODUMP)));
  printf("  madvise [vdso] FREE: %s\n", R(madvise((void*)t, tl, MADV_FREE)));
  printf("  madvise [vdso] REMOVE: %s\n", R(madvise((void*)t, tl, MADV_REMOVE)));
  printf("  arch_prctl(ARCH_MAP_VDSO_64) while mapped: %s\n",
         R(syscall(SYS_arch_prctl, ARCH_MAP_VDSO_64, 0)));
  show_rows("rows after the refusals");
}

static void data_pages(void) {
  find_rows();
  printf("data pages:\n");
  int fds[2];
  if (pipe(fds) != 0) return;
  char name[64];
  const struct row* rows[] = {&vvar, &vclock};
  for (int k = 0; k < 2; k++) {
    for (uintptr_t p = rows[k]->start; p && p < rows[k]->end; p += 4096) {
      snprintf(name, sizeof name, "%s page %lu", k ? "[vvar_vclock]" : "[vvar]",
               (unsigned long)((p - rows[k]->start) / 4096));
      touch(name, (const char*)p + 8);
      char buf[16];
      long w = write(fds[1], (const void*)p, 16);
      printf("  write(2) from %s: %s\n", name, w < 0 ? errname(errno) : "16");
      if (w > 0) read(fds[0], buf, sizeof buf);
    }
  }
  close(fds[0]);
  close(fds[1]);
}

// A byte of the text written through a private copy, then MADV_DONTNEED
// brings the kernel's back.
static void text_copy_on_write(void) {
  find_rows();
  volatile char* p = (volatile char*)(vdso.start + 15);  // e_ident padding
  size_t len = vdso.end - vdso.start;
  printf("text copy on write:\n");
  char orig = *p;
  printf("  mprotect [vdso] RWX: %s\n",
         R(mprotect((void*)vdso.start, len, PROT_READ | PROT_WRITE | PROT_EXEC)));
  *p = (char)(orig ^ 0x5a);
  printf("  written byte reads back: %s\n", *p == (char)(orig ^ 0x5a) ? "yes" : "NO");
  printf("  madvise [vdso] DONTNEED: %s\n", R(madvise((void*)vdso.start, len, MADV_DONTNEED)));
  printf("  original byte is back: %s\n", *p == orig ? "yes" : "NO");
  printf("  mprotect [vdso] back to RX: %s\n",
         R(mprotect((void*)vdso.start, len, PROT_READ | PROT_EXEC)));
  show_rows("rows after the text round trip");
  vdso_works("after the text round trip", vdso.start);
}

// mprotect PROT_NONE of [vvar] takes effect at once; PROT_READ brings it back.
static void protect_data(void) {
  find_rows();
  printf("protect [vvar]:\n");
  size_t vl = vvar.end - vvar.start;
  touch("[vvar] before", (const char*)vvar.start);
  printf("  mprotect PROT_NONE: %s\n", R(mprotect((void*)vvar.start, vl, PROT_NONE)));
  touch("[vvar] PROT_NONE", (const char*)vvar.start);
  printf("  mprotect PROT_READ: %s\n", R(mprotect((void*)vvar.start, vl, PROT_READ)));
  touch("[vvar] PROT_READ again", (const char*)vvar.start);
  vdso_works("after PROT_NONE and back", vdso.start);
}

static void in_child(void (*fn)(void)) {
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    fn();
    fflush(stdout);
    _exit(0);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  printf("child: %s %d\n", WIFEXITED(status) ? "exit" : "signal",
         WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
}

static void forked(void) {
  show_rows("rows in a forked child");
  vdso_works("forked child", getauxval(AT_SYSINFO_EHDR));
}

static char* self_path;

// The whole set moved elsewhere with mremap (as CRIU restores it), then
// unmapped, then mapped anew with arch_prctl, then execve.
static void move_unmap_remap(void) {
  find_rows();
  struct row a = vvar, b = vclock, c = vdso;
  uintptr_t origin = a.start;
  size_t block = c.end - origin;
  char* to = mmap(NULL, block + (1 << 20), PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  to += 1 << 19;
  const struct row* parts[] = {&a, &b, &c};
  int moved = 1;
  for (int k = 0; k < 3; k++) {
    if (!parts[k]->start) continue;
    size_t len = parts[k]->end - parts[k]->start;
    void* want = to + (parts[k]->start - origin);
    void* got = mremap((void*)parts[k]->start, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, want);
    moved &= got == want;
  }
  printf("moved the set: %s\n", moved ? "yes" : "NO");
  show_rows("rows after the move");
  printf("  set starts where it was moved to: %s\n", vvar.start == (uintptr_t)to ? "yes" : "NO");
  vdso_works("moved vDSO", vdso.start);
  touch("old [vvar] address", (const char*)origin);

  // Read the data (so the translation is live), unmap, read again.
  touch("[vvar] before munmap", (const char*)vvar.start);
  printf("munmap [vvar]: %s\n", R(munmap((void*)vvar.start, vvar.end - vvar.start)));
  touch("[vvar] after munmap", (const char*)to);
  if (vclock.start)
    printf("munmap [vvar_vclock]: %s\n", R(munmap((void*)vclock.start, vclock.end - vclock.start)));
  size_t text_len = vdso.end - vdso.start;
  printf("munmap [vdso]: %s\n", R(munmap((void*)vdso.start, text_len)));
  show_rows("rows after munmap");

  long r = syscall(SYS_arch_prctl, ARCH_MAP_VDSO_64, 0);
  printf("arch_prctl(ARCH_MAP_VDSO_64): %s, returns the [vdso] size: %s\n", r < 0 ? errname(errno) : "0",
         r == (long)text_len ? "yes" : "NO");
  show_rows("rows after ARCH_MAP_VDSO_64");
  vdso_works("new vDSO", vdso.start);

  fflush(stdout);
  char* args[] = {self_path, "exec-child", NULL};
  execv(self_path, args);
  printf("execv: %s\n", errname(errno));
}

static void exec_child(void) {
  show_rows("rows after execve");
  printf("  [vdso] is AT_SYSINFO_EHDR: %s\n",
         vdso.start == getauxval(AT_SYSINFO_EHDR) ? "yes" : "NO");
  vdso_works("after execve", getauxval(AT_SYSINFO_EHDR));
}

int main(int argc, char** argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (argc > 1 && !strcmp(argv[1], "exec-child")) {
    exec_child();
    return 0;
  }
  self_path = argv[0];
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_fault;
  sa.sa_flags = SA_SIGINFO;
  sigaction(SIGSEGV, &sa, NULL);
  sigaction(SIGBUS, &sa, NULL);

  show_rows("rows");
  printf("  [vdso] is AT_SYSINFO_EHDR: %s\n",
         vdso.start == getauxval(AT_SYSINFO_EHDR) ? "yes" : "NO");
  printf("  adjacent: %s %s\n", vvar.end == (vclock.start ? vclock.start : vdso.start) ? "yes" : "NO",
         !vclock.start || vclock.end == vdso.start ? "yes" : "NO");
  printf("smaps:\n");
  smaps_row("[vvar]");
  smaps_row("[vvar_vclock]");
  smaps_row("[vdso]");
  vdso_works("initial", vdso.start);
  refusals();
  data_pages();
  text_copy_on_write();
  protect_data();
  in_child(forked);
  in_child(move_unmap_remap);
  vdso_works("parent at the end", getauxval(AT_SYSINFO_EHDR));
  return 0;
}
