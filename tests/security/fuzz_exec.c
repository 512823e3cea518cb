// A bounded, seeded run of execve on mutated images (docs/security.md,
// "Fuzz runs"): the program's own ELF file with a few random bytes, bits or
// fields of its ELF header and program headers changed, and `#!` scripts
// with random interpreter lines (relative names, overlong lines, the
// program itself with random arguments, scripts that name each other).
// Each image runs in a child with a deadline; an image that runs at all
// starts this same program with an argument, which then exits at once.
//
// What must hold, natively and under elfuse: every exec ends (refused, the
// child killed, or the program run), the parent goes on, and no elfuse
// diagnostic about itself appears (fuzz_common.h). How each image ends is
// not compared: which malformed images a kernel accepts is not the
// question here, only that elfuse survives all of them.
#include <elf.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz_common.h"

enum { kElfImages = 160, kScripts = 60, kDeadlineMs = 3000 };


static unsigned char* image;
static size_t image_size;
static char self_path[4096];

static void exec_it(const char* path, uint64_t seed) {
  char* args[] = {(char*)path, "--exit", NULL};
  char* env[] = {NULL};
  execve(path, args, env);
  _exit(0);  // refused: an ordinary end
}

static int write_file(const char* path, const void* data, size_t len) {
  unlink(path);
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0755);
  if (fd < 0) return -1;
  const char* p = data;
  while (len > 0) {
    ssize_t n = write(fd, p, len);
    if (n <= 0) {
      close(fd);
      return -1;
    }
    p += n;
    len -= (size_t)n;
  }
  close(fd);
  return 0;
}

// Changes a few things where the kernel and the loader look: the ELF
// header, the program headers, and now and then a field set to an extreme.
static void mutate(unsigned char* img, size_t size) {
  const Elf64_Ehdr* eh = (const Elf64_Ehdr*)image;
  size_t ph_end = eh->e_phoff + (size_t)eh->e_phnum * sizeof(Elf64_Phdr);
  if (ph_end > size) ph_end = size;
  int edits = 1 + (int)(next() % 4);
  for (int i = 0; i < edits; i++) {
    size_t at = next() % ph_end;
    switch (next() % 4) {
      case 0: img[at] = (unsigned char)next(); break;
      case 1: img[at] ^= (unsigned char)(1u << (next() % 8)); break;
      case 2: {  // a 64-bit field to an extreme
        static const uint64_t extremes[] = {0, 1, 0xffffffffffffffffULL, 0x7fffffffffffffffULL,
                                            0x1000, 0xfffffffffffff000ULL, 0x800000000000ULL};
        uint64_t v = extremes[next() % (sizeof extremes / sizeof extremes[0])];
        at &= ~(size_t)7;
        if (at + 8 <= size) memcpy(img + at, &v, 8);
        break;
      }
      default: {  // e_phnum or e_phentsize
        uint16_t v = (uint16_t)next();
        memcpy(img + (next() % 2 ? offsetof(Elf64_Ehdr, e_phnum) : offsetof(Elf64_Ehdr, e_phentsize)),
               &v, 2);
        break;
      }
    }
  }
}

static void script_line(char* out, size_t cap, const char* other) {
  size_t n = 0;
  switch (next() % 6) {
    case 0:  // random bytes, no '/': a relative name, mostly missing
      n = (size_t)snprintf(out, cap, "#!");
      for (int i = 0, len = (int)(next() % 200); i < len && n + 2 < cap; i++) {
        char c = (char)(next() % 255 + 1);
        out[n++] = c == '/' || c == '.' ? 'x' : c;
      }
      out[n] = 0;
      break;
    case 1:  // the program itself with random words
      n = (size_t)snprintf(out, cap, "#!%s --exit %llx\n", self_path, (unsigned long long)next());
      break;
    case 2:  // an overlong line (BINPRM_BUF_SIZE is 256)
      n = (size_t)snprintf(out, cap, "#!%s ", self_path);
      while (n + 2 < cap && n < 600) out[n++] = 'a';
      out[n] = 0;
      break;
    case 3:  // the other script: two scripts naming each other
      snprintf(out, cap, "#!%s\n", other);
      break;
    case 4:  // whitespace and nothing
      snprintf(out, cap, "#!%s\n", next() % 2 ? "   \t" : "");
      break;
    default:  // the exe link of the caller
      snprintf(out, cap, "#!/proc/self/exe --exit\n");
      break;
  }
}

int main(int argc, char** argv) {
  if (argc > 1) return 0;  // started by an image that ran
  ssize_t len = readlink("/proc/self/exe", self_path, sizeof self_path - 1);
  if (len <= 0) return 2;
  self_path[len] = 0;
  int fd = open("/proc/self/exe", O_RDONLY);
  if (fd < 0) return 2;
  struct stat st;
  if (fstat(fd, &st) != 0) return 2;
  image_size = (size_t)st.st_size;
  image = malloc(image_size);
  unsigned char* copy = malloc(image_size);
  if (!image || !copy || pread(fd, image, image_size, 0) != (ssize_t)image_size) return 2;
  close(fd);

  char dir[] = "/tmp/fuzz_exec.XXXXXX";
  if (!mkdtemp(dir)) return 2;
  char path[256], other[256];
  snprintf(path, sizeof path, "%s/image", dir);
  snprintf(other, sizeof other, "%s/other", dir);
  int said = 0;
  rng = 0x5eed;
  for (int i = 0; i < kElfImages; i++) {
    memcpy(copy, image, image_size);
    mutate(copy, image_size);
    if (write_file(path, copy, image_size) != 0) return 2;
    said += run_bounded(exec_it, path, 0, kDeadlineMs, i);
  }
  for (int i = 0; i < kScripts; i++) {
    char line[1024], line2[1024];
    script_line(line, sizeof line, other);
    script_line(line2, sizeof line2, path);
    if (write_file(path, line, strlen(line)) != 0 || write_file(other, line2, strlen(line2)) != 0)
      return 2;
    said += run_bounded(exec_it, path, 0, kDeadlineMs, kElfImages + i);
  }
  unlink(path);
  unlink(other);
  rmdir(dir);
  printf("mutated images: %d, scripts: %d, all ended\n", kElfImages, kScripts);
  printf("elfuse diagnostics: %s\n", said ? "LEAK" : "none");
  return said ? 1 : 0;
}
