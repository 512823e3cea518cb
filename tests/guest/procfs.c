// The process's own /proc entries (maps, smaps, exe, cmdline, environ, auxv,
// stat, statm, status) under /proc/self, /proc/thread-self, /proc/<pid> and
// /proc/<pid>/task/<tid>. Prints only what does not depend on addresses or
// times: the kinds of maps rows (the vDSO's included), exact cmdline and
// environ bytes, auxv values, and relations between stat fields.
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common.h"

static char* slurp(const char* path, size_t* len_out) {
  // Allocate first: the kernel prints at read time, elfuse at open time.
  size_t cap = 1 << 20, len = 0;
  char* buf = malloc(cap + 1);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    printf("open %s: %s\n", path, errname(errno));
    free(buf);
    return NULL;
  }
  for (;;) {
    if (len == cap) buf = realloc(buf, (cap *= 2) + 1);
    // Small reads, so that the file is read in several pieces.
    ssize_t n = read(fd, buf + len, cap - len < 1000 ? cap - len : 1000);
    if (n < 0) {
      printf("read %s: %s\n", path, errname(errno));
      break;
    }
    if (n == 0) break;
    len += (size_t)n;
  }
  close(fd);
  buf[len] = 0;
  if (len_out) *len_out = len;
  return buf;
}

static void print_bytes(const char* what, const char* p, size_t n) {
  printf("%s (%zu bytes): ", what, n);
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)p[i];
    if (c == 0)
      fputs("\\0", stdout);
    else if (c < 32 || c >= 127)
      printf("\\x%02x", c);
    else
      putchar(c);
  }
  putchar('\n');
}

static const char* base(const char* p) {
  const char* s = strrchr(p, '/');
  return s ? s + 1 : p;
}

// elfuse maps no [vsyscall] page (the kernel's is above the user range).
static int is_kernel_special(const char* name) {
  return !strcmp(name, "[vsyscall]");
}

// The kinds of rows: perms and basename (or [heap], [stack], "anon"),
// adjacent equal kinds collapsed; [vsyscall] left out.
static void maps_kinds(const char* path, const char* self_base) {
  char* text = slurp(path, NULL);
  if (!text) return;
  printf("%s:\n", path);
  char last[PATH_MAX + 16] = "";
  int text_row = 0, heap = 0, stack = 0, bad_lines = 0;
  for (char* line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
    unsigned long start, end, off, ino;
    unsigned dmaj, dmin;
    char perms[8];
    int name_at = 0;
    if (sscanf(line, "%lx-%lx %7s %lx %x:%x %lu %n", &start, &end, perms, &off, &dmaj, &dmin, &ino,
               &name_at) != 7) {
      bad_lines++;
      continue;
    }
    const char* name = line + name_at;
    // The name, when there is one, starts at column 73.
    if (*name && name_at != 73) bad_lines++;
    if (is_kernel_special(name)) continue;
    char kind[PATH_MAX + 16];
    if (*name == '/') {
      snprintf(kind, sizeof kind, "%s %s", perms, base(name));
      if (ino == 0) bad_lines++;
    } else if (*name) {
      snprintf(kind, sizeof kind, "%s %s", perms, name);
    } else {
      snprintf(kind, sizeof kind, "%s anon", perms);
      if (ino != 0 || off != 0) bad_lines++;
    }
    if (!strcmp(name, "[heap]")) heap = 1;
    if (!strcmp(name, "[stack]")) stack = 1;
    if (*name == '/' && !strcmp(perms, "r-xp") && !strcmp(base(name), self_base)) text_row = 1;
    if (strcmp(kind, last) != 0) printf("  %s\n", kind);
    snprintf(last, sizeof last, "%s", kind);
  }
  printf("  text row r-xp %s: %d, [heap] %d, [stack] %d, malformed %d\n", self_base, text_row, heap,
         stack, bad_lines);
  free(text);
}

// The VmFlags of the first row whose name is `name` (and perms, if given).
static void smaps_flags(const char* name, const char* perms) {
  char* text = slurp("/proc/self/smaps", NULL);
  if (!text) return;
  int in = 0, rss_seen = 0;
  for (char* line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
    unsigned long a, b;
    char p[8];
    int at = 0;
    if (sscanf(line, "%lx-%lx %7s %*x %*x:%*x %*u %n", &a, &b, p, &at) == 3) {
      if (in) break;
      in = !strcmp(line + at, name) || (name[0] != '[' && !strcmp(base(line + at), name));
      if (in && perms && strcmp(p, perms)) in = 0;
      continue;
    }
    if (!in) continue;
    unsigned long kb;
    if (sscanf(line, "Rss: %lu kB", &kb) == 1) rss_seen = kb > 0;
    if (!strncmp(line, "Size:", 5) || !strncmp(line, "KernelPageSize:", 15) ||
        !strncmp(line, "MMUPageSize:", 12)) {
      char field[32];
      unsigned long v;
      if (sscanf(line, "%31s %lu kB", field, &v) == 2 && v > 0)
        printf("  %s %s: %s > 0\n", name, perms ? perms : "", field);
    }
    if (!strncmp(line, "VmFlags:", 8)) printf("  %s %s: %s\n", name, perms ? perms : "", line);
  }
  printf("  %s %s: Rss > 0: %d\n", name, perms ? perms : "", rss_seen);
  free(text);
}

// The fields of a stat line after "pid (comm) state": field n (1-based, as
// in proc(5)) is f[n - 4].
static int stat_fields(const char* path, char* comm, unsigned long long* f, int max) {
  char* text = slurp(path, NULL);
  if (!text) return 0;
  char* open_paren = strchr(text, '(');
  char* close_paren = strrchr(text, ')');
  int pid = atoi(text);
  snprintf(comm, 32, "%.*s", (int)(close_paren - open_paren - 1), open_paren + 1);
  char state = close_paren[2];
  printf("%s: pid ok %d, comm %s, state %c\n", strncmp(path, "/proc/self", 10) ? "task" : path,
         pid == getpid(), comm, state);
  int n = 0;
  char* p = close_paren + 4;
  while (*p && n < max) {
    f[n++] = strtoull(p, &p, 10);
    while (*p == ' ') p++;
  }
  free(text);
  return n;
}

int main(int argc, char** argv) {
  const char* self = base(argv[0]);
  char path[256];
  int pid = getpid();
  int tid = (int)syscall(SYS_gettid);

  maps_kinds("/proc/self/maps", self);
  snprintf(path, sizeof path, "/proc/%d/maps", pid);
  char* a = slurp(path, NULL);
  printf("/proc/<pid>/maps rows like /proc/self/maps: %d\n", a && strchr(a, '\n') != NULL);
  free(a);
  maps_kinds("/proc/thread-self/maps", self);

  printf("smaps:\n");
  smaps_flags(self, "r-xp");
  smaps_flags("[stack]", NULL);
  smaps_flags("[heap]", NULL);
  smaps_flags("[vdso]", NULL);
  smaps_flags("[vvar]", NULL);

  // exe
  char e1[PATH_MAX] = "", e2[PATH_MAX] = "", e3[PATH_MAX] = "";
  ssize_t n1 = readlink("/proc/self/exe", e1, sizeof e1 - 1);
  snprintf(path, sizeof path, "/proc/%d/exe", pid);
  ssize_t n2 = readlink(path, e2, sizeof e2 - 1);
  ssize_t n3 = readlink("/proc/thread-self/exe", e3, sizeof e3 - 1);
  printf("exe: %s, agree %d %d\n", base(e1), n1 > 0 && n1 == n2 && !strcmp(e1, e2),
         n1 == n3 && !strcmp(e1, e3));

  // cmdline, environ: exact bytes.
  size_t len;
  char* s = slurp("/proc/self/cmdline", &len);
  if (s) print_bytes("cmdline", s, len);
  size_t cmdline_len = len;
  free(s);
  snprintf(path, sizeof path, "/proc/%d/task/%d/cmdline", pid, tid);
  s = slurp(path, &len);
  if (s) print_bytes("task cmdline", s, len);
  free(s);
  s = slurp("/proc/self/environ", &len);
  if (s) print_bytes("environ", s, len);
  size_t environ_len = len;
  free(s);

  // auxv
  s = slurp("/proc/self/auxv", &len);
  if (s) {
    const uint64_t* v = (const uint64_t*)s;
    size_t pairs = len / 16;
    int pagesz = 0, entry = 0, null_last = pairs > 0 && v[2 * (pairs - 1)] == AT_NULL;
    for (size_t i = 0; i < pairs; i++) {
      if (v[2 * i] == AT_PAGESZ) pagesz = v[2 * i + 1] == 4096;
      if (v[2 * i] == AT_ENTRY) entry = v[2 * i + 1] == getauxval(AT_ENTRY);
    }
    printf("auxv: whole pairs %d, AT_PAGESZ 4096 %d, AT_ENTRY %d, ends with AT_NULL %d\n",
           len % 16 == 0, pagesz, entry, null_last);
  }
  free(s);

  // stat
  char comm[32];
  unsigned long long f[64] = {0};
  int nf = stat_fields("/proc/self/stat", comm, f, 64);
#define F(n) f[(n)-4]
  printf("stat: fields %d\n", nf + 3);
  uintptr_t code = (uintptr_t)&main;
  // rss (field 24) and statm's resident come from the kernel's per-CPU
  // counters, which may still read 0 for a small process: not printed.
  printf("stat: vsize>0 %d startcode<=main<endcode %d\n", F(23) > 0, F(26) <= code && code < F(27));
  printf("stat: startstack>sp %d, argv len %d, env len %d, start_data<=end_data %d\n",
         F(28) > (uintptr_t)&nf, F(49) - F(48) == cmdline_len, F(51) - F(50) == environ_len,
         F(45) <= F(46));
  stat_fields("/proc/thread-self/stat", comm, f, 64);
  snprintf(path, sizeof path, "/proc/%d/task/%d/stat", pid, tid);
  stat_fields(path, comm, f, 64);

  // statm
  s = slurp("/proc/self/statm", NULL);
  if (s) {
    unsigned long size, res, shared, text, lib, data, dt;
    int k = sscanf(s, "%lu %lu %lu %lu %lu %lu %lu", &size, &res, &shared, &text, &lib, &data, &dt);
    printf("statm: %d fields, size>0 %d text>0 %d lib %lu data>0 %d dt %lu size>=resident %d\n", k,
           size > 0, text > 0, lib, data > 0, dt, size >= res && res >= shared);
  }
  free(s);

  // status
  s = slurp("/proc/self/status", NULL);
  if (s) {
    static const char* const keys[] = {"VmPeak", "VmSize",  "VmLck",   "VmPin",    "VmHWM",
                                       "VmRSS",  "RssAnon", "RssFile", "RssShmem", "VmData",
                                       "VmStk",  "VmExe",   "VmLib",   "VmPTE",    "VmSwap"};
    for (unsigned i = 0; i < sizeof keys / sizeof keys[0]; i++) {
      char* at = strstr(s, keys[i]);
      unsigned long kb = 0;
      char want[32];
      snprintf(want, sizeof want, "%s:\t%%lu kB", keys[i]);
      int ok = at && sscanf(at, want, &kb) == 1;
      const char* rel = kb > 0 ? ">0" : "0";
      if (!strcmp(keys[i], "VmSize") || !strcmp(keys[i], "VmRSS") || !strcmp(keys[i], "VmStk") ||
          !strcmp(keys[i], "VmExe") || !strcmp(keys[i], "VmLck") || !strcmp(keys[i], "VmSwap"))
        printf("status %s: present %d, %s\n", keys[i], ok, rel);
      else
        printf("status %s: present %d\n", keys[i], ok);
    }
    char* name = strstr(s, "Name:");
    if (name) printf("status %.*s\n", (int)strcspn(name, "\n"), name);
  }
  free(s);

  // How the files open.
  errno = 0;
  int fd = open("/proc/self/maps", O_WRONLY);
  printf("open maps O_WRONLY: %d %s\n", fd < 0 ? -1 : 0, errname(fd < 0 ? errno : 0));
  fd = open("/proc/self/status", O_RDONLY | O_DIRECTORY);
  printf("open status O_DIRECTORY: %d %s\n", fd < 0 ? -1 : 0, errname(fd < 0 ? errno : 0));
  fd = open("/proc/self/stat", O_RDONLY);
  char c;
  printf("write to stat fd: %zd %s\n", write(fd, "x", 1), errname(errno));
  int fl = fcntl(fd, F_GETFD);
  printf("stat fd: lowest %d, cloexec %d\n", fd == 3, fl & FD_CLOEXEC);
  close(fd);
  fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
  printf("stat fd O_CLOEXEC: cloexec %d, read %zd\n", fcntl(fd, F_GETFD) & FD_CLOEXEC,
         read(fd, &c, 1));
  close(fd);
  return 0;
}
