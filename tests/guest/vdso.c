// The vDSO: present (AT_SYSINFO_EHDR), an ELF whose dynamic symbols include
// the five x86_64 calls with version LINUX_2.6, and whose answers agree with
// the syscalls: every clock's time lies between two syscall readings taken
// around it, monotonic clocks never go backwards across interleaved vDSO
// calls and raw syscalls, clock_getres equals the syscall's, bad clock ids
// are EINVAL, bad pointers behave as natively (SIGSEGV inside the vDSO,
// EFAULT where it falls back to the syscall), getcpu names the CPU the
// thread is pinned to, gettimeofday and time agree with CLOCK_REALTIME.
// Prints only facts that hold on any run.
#include <elf.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/auxv.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

typedef long (*clock_gettime_fn)(clockid_t, struct timespec*);
typedef long (*clock_getres_fn)(clockid_t, struct timespec*);
typedef long (*gettimeofday_fn)(struct timeval*, struct timezone*);
typedef time_t (*time_fn)(time_t*);
typedef long (*getcpu_fn)(unsigned*, unsigned*, void*);

static const char* const kNames[] = {"__vdso_clock_gettime", "__vdso_gettimeofday", "__vdso_time",
                                     "__vdso_getcpu", "__vdso_clock_getres"};
static void* found[5];

// The vDSO's dynamic symbol table, read as ld.so reads it: through
// PT_DYNAMIC, with the load bias of the first PT_LOAD.
static void parse_vdso(uintptr_t base) {
  const Elf64_Ehdr* eh = (const Elf64_Ehdr*)base;
  CHECK(memcmp(eh->e_ident, ELFMAG, SELFMAG) == 0);
  CHECK(eh->e_ident[EI_CLASS] == ELFCLASS64 && eh->e_type == ET_DYN);
  const Elf64_Phdr* ph = (const Elf64_Phdr*)(base + eh->e_phoff);
  uintptr_t bias = 0;
  const Elf64_Dyn* dyn = NULL;
  int have_load = 0;
  for (int i = 0; i < eh->e_phnum; i++) {
    if (ph[i].p_type == PT_LOAD && !have_load) {
      bias = base + ph[i].p_offset - ph[i].p_vaddr;
      have_load = 1;
    }
    if (ph[i].p_type == PT_DYNAMIC) dyn = (const Elf64_Dyn*)(ph[i].p_vaddr);
  }
  CHECK(have_load && dyn != NULL);
  if (!have_load || !dyn) return;
  dyn = (const Elf64_Dyn*)((uintptr_t)dyn + bias);
  const Elf64_Sym* symtab = NULL;
  const char* strtab = NULL;
  const uint32_t* hash = NULL;
  const uint16_t* versym = NULL;
  const Elf64_Verdef* verdef = NULL;
  for (const Elf64_Dyn* d = dyn; d->d_tag != DT_NULL; d++) {
    uintptr_t p = d->d_un.d_ptr + bias;
    if (d->d_tag == DT_SYMTAB) symtab = (const Elf64_Sym*)p;
    if (d->d_tag == DT_STRTAB) strtab = (const char*)p;
    if (d->d_tag == DT_HASH) hash = (const uint32_t*)p;
    if (d->d_tag == DT_VERSYM) versym = (const uint16_t*)p;
    if (d->d_tag == DT_VERDEF) verdef = (const Elf64_Verdef*)p;
  }
  CHECK(symtab && strtab && hash && versym && verdef);
  if (!symtab || !strtab || !hash || !versym || !verdef) return;
  uint32_t nsyms = hash[1];  // nchain: one entry per symbol
  for (int k = 0; k < 5; k++) {
    const char* version = "none";
    int type = -1, bind = -1;
    for (uint32_t i = 1; i < nsyms; i++) {
      const Elf64_Sym* s = &symtab[i];
      if (strcmp(strtab + s->st_name, kNames[k]) != 0 || s->st_shndx == SHN_UNDEF) continue;
      found[k] = (void*)(s->st_value + bias);
      type = ELF64_ST_TYPE(s->st_info);
      bind = ELF64_ST_BIND(s->st_info);
      uint16_t ndx = versym[i] & 0x7fff;
      for (const Elf64_Verdef* v = verdef;; v = (const Elf64_Verdef*)((const char*)v + v->vd_next)) {
        if (v->vd_ndx == ndx) {
          const Elf64_Verdaux* aux = (const Elf64_Verdaux*)((const char*)v + v->vd_aux);
          version = strtab + aux->vda_name;
          break;
        }
        if (v->vd_next == 0) break;
      }
      break;
    }
    printf("%s: %s %s %s\n", kNames[k], found[k] ? "defined" : "missing",
           type == STT_FUNC ? "FUNC" : "not-FUNC", bind == STB_GLOBAL ? "GLOBAL" : "not-GLOBAL");
    printf("%s: version %s\n", kNames[k], version);
  }
}

static long long ns(const struct timespec* t) {
  return t->tv_sec * 1000000000LL + t->tv_nsec;
}

static long raw_clock_gettime(clockid_t id, struct timespec* t) {
  return syscall(SYS_clock_gettime, id, t) == 0 ? 0 : -errno;
}

static long raw_clock_getres(clockid_t id, struct timespec* t) {
  return syscall(SYS_clock_getres, id, t) == 0 ? 0 : -errno;
}

static const struct {
  clockid_t id;
  const char* name;
} kClocks[] = {
    {CLOCK_REALTIME, "CLOCK_REALTIME"},
    {CLOCK_MONOTONIC, "CLOCK_MONOTONIC"},
    {CLOCK_PROCESS_CPUTIME_ID, "CLOCK_PROCESS_CPUTIME_ID"},
    {CLOCK_THREAD_CPUTIME_ID, "CLOCK_THREAD_CPUTIME_ID"},
    {CLOCK_MONOTONIC_RAW, "CLOCK_MONOTONIC_RAW"},
    {CLOCK_REALTIME_COARSE, "CLOCK_REALTIME_COARSE"},
    {CLOCK_MONOTONIC_COARSE, "CLOCK_MONOTONIC_COARSE"},
    {CLOCK_BOOTTIME, "CLOCK_BOOTTIME"},
    {CLOCK_TAI, "CLOCK_TAI"},
};

// A vDSO reading lies between two syscall readings of the same clock.
static void clocks(clock_gettime_fn vdso_gettime) {
  for (unsigned i = 0; i < sizeof kClocks / sizeof kClocks[0]; i++) {
    struct timespec a, b, c;
    long ra = raw_clock_gettime(kClocks[i].id, &a);
    long rb = vdso_gettime(kClocks[i].id, &b);
    long rc = raw_clock_gettime(kClocks[i].id, &c);
    printf("%s: rc %ld %ld %ld, syscall <= vdso <= syscall: %s\n", kClocks[i].name, ra, rb, rc,
           ns(&a) <= ns(&b) && ns(&b) <= ns(&c) ? "yes" : "NO");
  }
  // A CPU-time clock of this process or thread by number (a negative
  // clockid): not the vDSO's, it asks the kernel.
  clockid_t pid_clock = ((~(clockid_t)getpid()) << 3) | 2;  // MAKE_PROCESS_CPUCLOCK(pid, SCHED)
  struct timespec a, b, c;
  long ra = raw_clock_gettime(pid_clock, &a);
  long rb = vdso_gettime(pid_clock, &b);
  long rc = raw_clock_gettime(pid_clock, &c);
  printf("process cpu clock by pid: rc %ld %ld %ld, ordered: %s\n", ra, rb, rc,
         ns(&a) <= ns(&b) && ns(&b) <= ns(&c) ? "yes" : "NO");
}

// Monotonic clocks never go backwards across the vDSO/syscall boundary.
static void never_backwards(clock_gettime_fn vdso_gettime) {
  static const clockid_t ids[] = {CLOCK_MONOTONIC, CLOCK_MONOTONIC_RAW, CLOCK_BOOTTIME,
                                  CLOCK_MONOTONIC_COARSE};
  static const char* const names[] = {"CLOCK_MONOTONIC", "CLOCK_MONOTONIC_RAW", "CLOCK_BOOTTIME",
                                      "CLOCK_MONOTONIC_COARSE"};
  for (int k = 0; k < 4; k++) {
    long long last = 0;
    int backwards = 0, errors = 0;
    for (int i = 0; i < 400; i++) {
      struct timespec t;
      long r = (i & 1) ? raw_clock_gettime(ids[k], &t) : vdso_gettime(ids[k], &t);
      if (r != 0) errors++;
      if (ns(&t) < last) backwards++;
      last = ns(&t);
      // Several vDSO calls in a row, then a syscall.
      for (int j = 0; j < 3 && !(i & 1); j++) {
        if (vdso_gettime(ids[k], &t) != 0) errors++;
        if (ns(&t) < last) backwards++;
        last = ns(&t);
      }
    }
    printf("%s interleaved: errors %d, backwards %d\n", names[k], errors, backwards);
  }
}

static void resolutions(clock_getres_fn vdso_getres) {
  for (clockid_t id = -2; id < 16; id++) {
    struct timespec a = {-1, -1}, b = {-1, -1};
    long ra = raw_clock_getres(id, &a);
    long rb = vdso_getres(id, &b);
    printf("clock_getres(%d): syscall %ld vdso %ld, equal: %s\n", id, ra, rb,
           ra == rb && a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec ? "yes" : "NO");
  }
  // A NULL result pointer is allowed.
  printf("clock_getres(CLOCK_MONOTONIC, NULL): %ld\n", vdso_getres(CLOCK_MONOTONIC, NULL));
}

static void invalid_ids(clock_gettime_fn vdso_gettime) {
  static const clockid_t ids[] = {12, 15, 16, 100, -1, 0x7fffffff};
  for (unsigned i = 0; i < sizeof ids / sizeof ids[0]; i++) {
    struct timespec t;
    long r = vdso_gettime(ids[i], &t);
    long s = raw_clock_gettime(ids[i], &t);
    printf("clock id %d: vdso %s, syscall %s\n", ids[i], r < 0 ? errname((int)-r) : "0",
           s < 0 ? errname((int)-s) : "0");
  }
  // Through the C library, which uses the vDSO.
  struct timespec t;
  errno = 0;
  int r = clock_gettime(100, &t);
  printf("libc clock_gettime(100) = %d %s\n", r, errname(errno));
}

static sigjmp_buf jump;
static volatile int caught;

static void on_fault(int sig) {
  caught = sig;
  siglongjmp(jump, 1);
}

// What a call with a bad pointer does: the vDSO stores through it itself
// (SIGSEGV), unless it hands the call to the kernel (EFAULT).
#define TRY_BAD(label, call)                                     \
  do {                                                           \
    caught = 0;                                                  \
    volatile long r_ = 0;                                        \
    if (sigsetjmp(jump, 1) == 0) r_ = (long)(call);              \
    if (caught)                                                  \
      printf("%s: %s\n", label, caught == SIGSEGV ? "SIGSEGV" : "SIGBUS"); \
    else                                                         \
      printf("%s: %ld %s\n", label, r_, r_ < 0 ? errname((int)-r_) : ""); \
  } while (0)

static void bad_pointers(clock_gettime_fn gt, gettimeofday_fn gtod, time_fn tm, getcpu_fn gc,
                         clock_getres_fn gr) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_fault;
  sigaction(SIGSEGV, &sa, NULL);
  sigaction(SIGBUS, &sa, NULL);
  void* bad = (void*)16;
  TRY_BAD("vdso clock_gettime(MONOTONIC, bad)", gt(CLOCK_MONOTONIC, bad));
  TRY_BAD("vdso clock_gettime(MONOTONIC_COARSE, bad)", gt(CLOCK_MONOTONIC_COARSE, bad));
  TRY_BAD("vdso clock_gettime(PROCESS_CPUTIME_ID, bad)", gt(CLOCK_PROCESS_CPUTIME_ID, bad));
  TRY_BAD("syscall clock_gettime(MONOTONIC, bad)", raw_clock_gettime(CLOCK_MONOTONIC, bad));
  TRY_BAD("vdso clock_getres(MONOTONIC, bad)", gr(CLOCK_MONOTONIC, bad));
  TRY_BAD("vdso clock_getres(PROCESS_CPUTIME_ID, bad)", gr(CLOCK_PROCESS_CPUTIME_ID, bad));
  TRY_BAD("vdso gettimeofday(bad, NULL)", gtod(bad, NULL));
  TRY_BAD("vdso gettimeofday(NULL, bad)", gtod(NULL, bad));
  TRY_BAD("vdso time(bad)", tm(bad));
  TRY_BAD("vdso getcpu(bad, NULL)", gc(bad, NULL, NULL));
  signal(SIGSEGV, SIG_DFL);
  signal(SIGBUS, SIG_DFL);
}

static void realtime_agreement(gettimeofday_fn gtod, time_fn tm) {
  struct timespec a, c;
  struct timeval tv;
  struct timezone tz_vdso = {-1, -1}, tz_sys = {-2, -2};
  raw_clock_gettime(CLOCK_REALTIME, &a);
  long r = gtod(&tv, &tz_vdso);
  raw_clock_gettime(CLOCK_REALTIME, &c);
  long long us = tv.tv_sec * 1000000LL + tv.tv_usec;
  printf("gettimeofday: %ld, within CLOCK_REALTIME readings: %s\n", r,
         ns(&a) / 1000 <= us && us <= ns(&c) / 1000 ? "yes" : "NO");
  syscall(SYS_gettimeofday, NULL, &tz_sys);
  printf("gettimeofday timezone equals the syscall's: %s\n",
         tz_vdso.tz_minuteswest == tz_sys.tz_minuteswest && tz_vdso.tz_dsttime == tz_sys.tz_dsttime
             ? "yes"
             : "NO");
  printf("gettimeofday(NULL, NULL): %ld\n", gtod(NULL, NULL));
  time_t stored = 0;
  raw_clock_gettime(CLOCK_REALTIME, &a);
  time_t t = tm(&stored);
  raw_clock_gettime(CLOCK_REALTIME, &c);
  printf("time: within CLOCK_REALTIME seconds: %s, stored equals returned: %s\n",
         a.tv_sec <= t && t <= c.tv_sec ? "yes" : "NO", stored == t ? "yes" : "NO");
  long long before = (long long)syscall(SYS_time, NULL);
  t = tm(NULL);
  long long after = (long long)syscall(SYS_time, NULL);
  printf("time(NULL) between time syscalls: %s\n", before <= t && t <= after ? "yes" : "NO");
}

static void cpu(getcpu_fn gc) {
  // Pinned to the first CPU this thread may use, the vDSO, the syscall and
  // sched_getcpu must all name it.
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) != 0) return;
  int first = -1;
  for (int i = 0; i < CPU_SETSIZE && first < 0; i++)
    if (CPU_ISSET(i, &set)) first = i;
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(first, &one);
  OK(sched_setaffinity(0, sizeof one, &one));
  unsigned c1 = ~0u, n1 = ~0u, c2 = ~0u, n2 = ~0u;
  long r = gc(&c1, &n1, NULL);
  long s = syscall(SYS_getcpu, &c2, &n2, NULL);
  printf("getcpu: vdso %ld syscall %ld, cpu is the pinned one: %s %s, nodes equal: %s\n", r, s,
         (int)c1 == first ? "yes" : "NO", (int)c2 == first ? "yes" : "NO", n1 == n2 ? "yes" : "NO");
  printf("getcpu: cpu < nprocs: %s\n", c1 < (unsigned)sysconf(_SC_NPROCESSORS_CONF) ? "yes" : "NO");
  unsigned only = ~0u;
  r = gc(&only, NULL, NULL);
  printf("getcpu(cpu, NULL, NULL): %ld, cpu is the pinned one: %s\n", r,
         (int)only == first ? "yes" : "NO");
  sched_setaffinity(0, sizeof set, &set);
}

int main(void) {
  uintptr_t base = (uintptr_t)getauxval(AT_SYSINFO_EHDR);
  printf("AT_SYSINFO_EHDR present: %s, page aligned: %s\n", base ? "yes" : "NO",
         (base & 4095) == 0 ? "yes" : "NO");
  if (!base) return 1;
  parse_vdso(base);
  for (int k = 0; k < 5; k++)
    if (!found[k]) return 1;
  clock_gettime_fn gt = (clock_gettime_fn)found[0];
  gettimeofday_fn gtod = (gettimeofday_fn)found[1];
  time_fn tm = (time_fn)found[2];
  getcpu_fn gc = (getcpu_fn)found[3];
  clock_getres_fn gr = (clock_getres_fn)found[4];
  clocks(gt);
  never_backwards(gt);
  resolutions(gr);
  invalid_ids(gt);
  realtime_agreement(gtod, tm);
  cpu(gc);
  bad_pointers(gt, gtod, tm, gc, gr);
  return 0;
}
