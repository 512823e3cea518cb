// Small hand-made ELF images written to files and execve'd in forked children
// (the cases of gVisor's exec_binary.cc, without its ptrace): what the kernel
// accepts (the mappings the image finds in /proc/self/maps, its exit status),
// refuses (the execve errno: ENOEXEC, EACCES, ELIBBAD...) or kills after the
// point of no return (SIGSEGV). fs/binfmt_elf.c load_elf_binary.
#include <elf.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"
#include "own_dir.h"

// Copies /proc/self/maps to fd 3, then exit(42).
static const unsigned char kCode[] = {
    0x48, 0x8d, 0x3d, 0x45, 0x00, 0x00, 0x00,  // lea path(%rip), %rdi
    0x31, 0xf6,                                // xor %esi, %esi
    0xb8, 0x02, 0x00, 0x00, 0x00,              // mov $SYS_open, %eax
    0x0f, 0x05,                                // syscall
    0x89, 0xc3,                                // mov %eax, %ebx
    0x48, 0x81, 0xec, 0x00, 0x10, 0x00, 0x00,  // sub $4096, %rsp
    0x89, 0xdf,                                // 1: mov %ebx, %edi
    0x48, 0x89, 0xe6,                          // mov %rsp, %rsi
    0xba, 0x00, 0x10, 0x00, 0x00,              // mov $4096, %edx
    0x31, 0xc0,                                // xor %eax, %eax (SYS_read)
    0x0f, 0x05,                                // syscall
    0x48, 0x85, 0xc0,                          // test %rax, %rax
    0x7e, 0x14,                                // jle 2f
    0x48, 0x89, 0xc2,                          // mov %rax, %rdx
    0xbf, 0x03, 0x00, 0x00, 0x00,              // mov $3, %edi
    0x48, 0x89, 0xe6,                          // mov %rsp, %rsi
    0xb8, 0x01, 0x00, 0x00, 0x00,              // mov $SYS_write, %eax
    0x0f, 0x05,                                // syscall
    0xeb, 0xd9,                                // jmp 1b
    0xbf, 0x2a, 0x00, 0x00, 0x00,              // 2: mov $42, %edi
    0xb8, 0x3c, 0x00, 0x00, 0x00,              // mov $SYS_exit, %eax
    0x0f, 0x05,                                // syscall
    '/',  'p',  'r',  'o',  'c',  '/',  's',  'e', 'l', 'f', '/', 'm', 'a', 'p', 's', 0,
};

enum { kMaxPhdrs = 8, kPage = 4096 };

struct Elf {
  Elf64_Ehdr h;
  Elf64_Phdr ph[kMaxPhdrs];
  int nph;
  unsigned char data[3 * kPage];
  size_t ndata;
};

// gVisor's StandardElf: PT_GNU_STACK, one R+X PT_LOAD of the code at 0x40000.
static void standard(struct Elf* e) {
  memset(e, 0, sizeof *e);
  memcpy(e->h.e_ident, ELFMAG, SELFMAG);
  e->h.e_ident[EI_CLASS] = ELFCLASS64;
  e->h.e_ident[EI_DATA] = ELFDATA2LSB;
  e->h.e_ident[EI_VERSION] = EV_CURRENT;
  e->h.e_type = ET_EXEC;
  e->h.e_machine = EM_X86_64;
  e->h.e_version = EV_CURRENT;
  e->h.e_phoff = sizeof e->h;
  e->h.e_phentsize = sizeof(Elf64_Phdr);
  e->ph[0].p_type = PT_GNU_STACK;
  e->ph[0].p_flags = PF_R | PF_W;
  e->ph[1].p_type = PT_LOAD;
  e->ph[1].p_flags = PF_R | PF_X;
  e->ph[1].p_vaddr = 0x40000;
  e->ph[1].p_filesz = e->ph[1].p_memsz = sizeof kCode;
  e->nph = 2;
  e->h.e_entry = 0x40000;
  memcpy(e->data, kCode, sizeof kCode);
  e->ndata = sizeof kCode;
}

static void add_phdr(struct Elf* e, Elf64_Phdr p) {
  e->ph[e->nph++] = p;
}

// The headers go before data: move offsets and addresses past them.
static void update_offsets(struct Elf* e) {
  size_t off = sizeof e->h + e->nph * sizeof(Elf64_Phdr);
  e->h.e_entry += off;
  e->h.e_phnum = e->nph;
  for (int i = 0; i < e->nph; i++) {
    e->ph[i].p_offset += off;
    e->ph[i].p_vaddr += off;
  }
}

static void write_elf(const char* path, const struct Elf* e, mode_t mode) {
  unlink(path);
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
  if (fd < 0) {
    perror(path);
    exit(1);
  }
  size_t ph = e->h.e_phnum * sizeof(Elf64_Phdr);
  if (e->nph < e->h.e_phnum) ph = e->nph * sizeof(Elf64_Phdr);
  if (write(fd, &e->h, sizeof e->h) != sizeof e->h || write(fd, e->ph, ph) != (ssize_t)ph ||
      write(fd, e->data, e->ndata) != (ssize_t)e->ndata) {
    perror("write");
    exit(1);
  }
  close(fd);
  chmod(path, mode);
}

// Prints the mappings the child wrote (its /proc/self/maps) below 1 GiB (a
// non-PIE image) or, for a PIE image, the ones naming a file of ours and the
// anonymous ones just after them, relative to the first.
static void show_maps(char* text, int pie) {
  unsigned long base = 0;
  int after_file = 0;
  for (char* line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
    unsigned long lo, hi, off;
    char perms[8], name[256] = "";
    if (sscanf(line, "%lx-%lx %7s %lx %*s %*s %255s", &lo, &hi, perms, &off, name) < 4) continue;
    const char* base_name = strrchr(name, '/');
    base_name = base_name ? base_name + 1 : name;
    int ours = strncmp(base_name, "img", 3) == 0;
    if (pie) {
      if (!ours && !(after_file && name[0] == 0)) {
        after_file = 0;
        continue;
      }
      after_file = ours;
      if (!base) base = lo;
      printf("  +%#lx-+%#lx %s %#lx %s\n", lo - base, hi - base, perms, off, base_name);
    } else if (hi <= 0x40000000ul) {
      printf("  %#lx-%#lx %s %#lx %s\n", lo, hi, perms, off, base_name);
    }
  }
}

// Forks, execs path; prints the execve errno, the mappings the image
// reports, and how the child ended.
static void run(const char* title, const char* path, int pie) {
  printf("%s:\n", title);
  fflush(stdout);
  int p[2], m[2];
  if (pipe2(p, O_CLOEXEC) || pipe(m)) exit(1);
  pid_t pid = fork();
  if (pid == 0) {
    close(p[0]);
    close(m[0]);
    if (dup2(m[1], 3) != 3) _exit(3);
    // elfuse reports a guest's death on stderr; the kernel does not.
    int null = open("/dev/null", O_WRONLY);
    if (null < 0 || dup2(null, 2) != 2) _exit(3);
    char* argv[] = {(char*)path, NULL};
    char* envp[] = {NULL};
    execve(path, argv, envp);
    int e = errno;
    if (write(p[1], &e, sizeof e) != sizeof e) _exit(2);
    _exit(1);
  }
  close(p[1]);
  close(m[1]);
  int e = 0;
  ssize_t n = read(p[0], &e, sizeof e);
  close(p[0]);
  printf("  execve: %s\n", n == sizeof e ? errname(e) : "0");
  static char maps[65536];
  size_t len = 0;
  while (len < sizeof maps - 1 && (n = read(m[0], maps + len, sizeof maps - 1 - len)) > 0) len += n;
  maps[len] = 0;
  close(m[0]);
  show_maps(maps, pie);
  int st;
  if (waitpid(pid, &st, 0) != pid) {
    printf("  waitpid: %s\n", errname(errno));
    return;
  }
  if (WIFEXITED(st))
    printf("  exit %d\n", WEXITSTATUS(st));
  else
    printf("  killed by %d\n", WTERMSIG(st));
}

static Elf64_Phdr load(uint32_t flags, uint64_t off, uint64_t vaddr, uint64_t filesz,
                       uint64_t memsz) {
  Elf64_Phdr p = {0};
  p.p_type = PT_LOAD;
  p.p_flags = flags;
  p.p_offset = off;
  p.p_vaddr = vaddr;
  p.p_filesz = filesz;
  p.p_memsz = memsz;
  return p;
}

// A PIE interpreter: the standard code, its first segment at 0 with the headers.
static void interpreter(struct Elf* e) {
  standard(e);
  e->h.e_type = ET_DYN;
  e->h.e_entry = 0;
  update_offsets(e);
  uint64_t off = e->ph[1].p_offset;
  e->ph[1].p_flags = PF_R | PF_W | PF_X;
  e->ph[1].p_offset = 0;
  e->ph[1].p_vaddr = 0;
  e->ph[1].p_filesz += off;
  e->ph[1].p_memsz += off;
}

// A standard binary with a PT_INTERP of the given bytes (after its PT_LOADs).
static void with_interp(struct Elf* e, const char* interp, size_t len) {
  standard(e);
  size_t start = e->ndata;
  memcpy(e->data + start, interp, len);
  e->ndata += len;
  Elf64_Phdr p = {0};
  p.p_type = PT_INTERP;
  p.p_offset = start;
  p.p_filesz = p.p_memsz = len;
  add_phdr(e, p);
  update_offsets(e);
}

int main(void) {
  own_dir_enter();
  static struct Elf e, interp;
  char cwd[512];
  if (!getcwd(cwd, sizeof cwd - 64)) return 1;

  standard(&e);
  update_offsets(&e);
  write_elf("img_exec", &e, 0755);
  run("Execute", "./img_exec", 0);

  standard(&e);
  e.ndata = 0;
  update_offsets(&e);
  write_elf("img_text", &e, 0755);
  run("MissingText", "./img_text", 0);

  standard(&e);
  e.ndata = kPage + kPage / 2;
  add_phdr(&e, load(PF_R | PF_W, kPage, 0x41000, kPage / 2, 2 * kPage - kPage / 2));
  update_offsets(&e);
  write_elf("img_data", &e, 0755);
  run("DataSegment", "./img_data", 0);

  standard(&e);
  e.ndata = kPage + kPage / 2;
  add_phdr(&e, load(PF_R | PF_W | PF_X, kPage, 0x41000, kPage / 2, 2 * kPage - kPage / 2));
  update_offsets(&e);
  write_elf("img_extra", &e, 0755);
  run("ExtraMemPages", "./img_extra", 0);

  standard(&e);
  add_phdr(&e, load(PF_R, 0, 0x41000, 0, kPage));
  update_offsets(&e);
  e.ph[2].p_vaddr = 0x41000;
  write_elf("img_anon", &e, 0755);
  run("AnonOnlySegment", "./img_anon", 0);

  standard(&e);
  e.ph[1].p_offset += 1;
  update_offsets(&e);
  write_elf("img_unaligned", &e, 0755);
  run("UnalignedOffset", "./img_unaligned", 0);

  standard(&e);
  add_phdr(&e, load(PF_R | PF_W | PF_X, 0, 0x40000, sizeof kCode, sizeof kCode));
  update_offsets(&e);
  write_elf("img_overlap", &e, 0755);
  run("DirectlyOverlappingSegments", "./img_overlap", 0);

  standard(&e);
  add_phdr(&e, load(PF_R | PF_X, 0, 0x20000, sizeof kCode, sizeof kCode));
  update_offsets(&e);
  write_elf("img_order", &e, 0755);
  run("OutOfOrderSegments", "./img_order", 0);

  standard(&e);
  e.h.e_phoff = 0x100000;
  update_offsets(&e);
  write_elf("img_phoff", &e, 0755);
  run("OutOfBoundsPhdrs", "./img_phoff", 0);

  standard(&e);
  e.ndata = 0;
  update_offsets(&e);
  e.h.e_phnum++;
  write_elf("img_phnum", &e, 0755);
  run("MissingPhdr", "./img_phnum", 0);

  {
    int fd = open("img_magic", O_WRONLY | O_CREAT | O_TRUNC, 0755);
    if (fd < 0 || write(fd, ELFMAG, SELFMAG) != SELFMAG) return 1;
    close(fd);
    run("MissingHeader", "./img_magic", 0);
  }

  standard(&e);
  e.h.e_type = ET_DYN;
  e.h.e_entry = 0;
  e.ndata = kPage + kPage / 2;
  add_phdr(&e, load(PF_R | PF_W, kPage, 0x20000, kPage / 2, 2 * kPage - kPage / 2));
  update_offsets(&e);
  {
    uint64_t off = e.ph[1].p_offset;
    e.ph[1].p_offset = 0;
    e.ph[1].p_vaddr = 0;
    e.ph[1].p_filesz += off;
    e.ph[1].p_memsz += off;
  }
  write_elf("img_pie", &e, 0755);
  run("PIE", "./img_pie", 1);

  standard(&e);
  e.h.e_type = ET_DYN;
  e.ph[1].p_vaddr = 0xfffffffffffff000ul - e.ph[1].p_memsz;
  update_offsets(&e);
  write_elf("img_pieoverflow", &e, 0755);
  run("PIEOverflow", "./img_pieoverflow", 0);

  // Interpreters.
  interpreter(&interp);
  write_elf("img_interp", &interp, 0755);
  char ipath[600];
  snprintf(ipath, sizeof ipath, "%s/img_interp", cwd);
  with_interp(&e, ipath, strlen(ipath) + 1);
  write_elf("img_dyn", &e, 0755);
  run("ELFInterpreter", "./img_dyn", 0);

  with_interp(&e, "img_interp", sizeof "img_interp");
  write_elf("img_dynrel", &e, 0755);
  run("ELFInterpreterRelative", "./img_dynrel", 0);

  {
    char buf[620];
    size_t n = strlen(ipath);
    memcpy(buf, ipath, n);
    memcpy(buf + n, "\0b\0", 3);
    with_interp(&e, buf, n + 3);
    write_elf("img_dyngarbage", &e, 0755);
    run("InterpreterGarbageNul", "./img_dyngarbage", 0);
    memcpy(buf + n, "\0b", 2);
    with_interp(&e, buf, n + 2);
    write_elf("img_dynnonul", &e, 0755);
    run("InterpreterGarbageNoNul", "./img_dynnonul", 0);
  }

  with_interp(&e, "/f/b", 5);
  write_elf("img_badpath1", &e, 0755);
  run("BadPath /f/b", "./img_badpath1", 0);
  with_interp(&e, "/f/b", 4);
  write_elf("img_badpath2", &e, 0755);
  run("BadPath unterminated", "./img_badpath2", 0);
  with_interp(&e, "", 1);
  write_elf("img_badpath3", &e, 0755);
  run("BadPath empty", "./img_badpath3", 0);
  with_interp(&e, "\0", 2);
  write_elf("img_badpath4", &e, 0755);
  run("BadPath NUL NUL", "./img_badpath4", 0);

  interpreter(&interp);
  interp.h.e_machine = EM_PPC64;
  write_elf("img_interp_ppc", &interp, 0755);
  snprintf(ipath, sizeof ipath, "%s/img_interp_ppc", cwd);
  with_interp(&e, ipath, strlen(ipath) + 1);
  write_elf("img_dynppc", &e, 0755);
  run("ELFInterpreterWrongArch", "./img_dynppc", 0);

  interpreter(&interp);
  write_elf("img_interp_noexec", &interp, 0644);
  snprintf(ipath, sizeof ipath, "%s/img_interp_noexec", cwd);
  with_interp(&e, ipath, strlen(ipath) + 1);
  write_elf("img_dynnoexec", &e, 0755);
  run("ElfInterpreterNoExecute", "./img_dynnoexec", 0);

  standard(&e);
  update_offsets(&e);
  write_elf("img_noexec", &e, 0644);
  run("NoExecute", "./img_noexec", 0);
  write_elf("img_noread", &e, 0111);
  run("NoRead", "./img_noread", 0);
  return 0;
}
