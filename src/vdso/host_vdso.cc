#include "vdso/host_vdso.h"

#include <elf.h>
#include <fcntl.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

#include "base/private_fd.h"
#include "base/unique_fd.h"

namespace elfuse {
namespace {

struct MapsRow {
  uint64_t start = 0, end = 0;
  std::string perms, name;
};

// Our own /proc/self/maps rows whose name is in [...] (the kernel's special
// mappings and [heap]/[stack]); nothing else is needed here.
std::vector<MapsRow> bracket_rows() {
  std::vector<MapsRow> rows;
  FILE* f = fopen("/proc/self/maps", "re");
  if (!f) return rows;
  char line[512];
  while (fgets(line, sizeof line, f)) {
    unsigned long long s, e;
    char perms[8];
    int name_at = 0;
    if (sscanf(line, "%llx-%llx %7s %*s %*s %*s %n", &s, &e, perms, &name_at) < 3) continue;
    std::string name = line + name_at;
    while (!name.empty() && (name.back() == '\n' || name.back() == ' ')) name.pop_back();
    if (name.size() < 2 || name.front() != '[' || name.back() != ']') continue;
    rows.push_back({s, e, perms, name});
  }
  fclose(f);
  return rows;
}

// A memfd holding a copy of the text, sealed against any change.
int text_memfd(const uint8_t* text, uint64_t len) {
  int fd = static_cast<int>(syscall(SYS_memfd_create, "vdso", MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (fd < 0) return -1;
  UniqueFd owned(fd);
  uint64_t done = 0;
  while (done < len) {
    ssize_t n = write(fd, text + done, len - done);
    if (n <= 0) return -1;
    done += static_cast<uint64_t>(n);
  }
  if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) != 0)
    return -1;
  return move_to_private_fd(owned.release());
}

HostVdso* find_host_vdso() {
  uint64_t text = getauxval(AT_SYSINFO_EHDR);
  if (text == 0) return nullptr;
  std::vector<MapsRow> rows = bracket_rows();
  size_t t = 0;
  while (t < rows.size() && !(rows[t].name == "[vdso]" && rows[t].start == text)) t++;
  if (t == rows.size()) return nullptr;
  // arch/x86/entry/vdso/vma.c map_vdso: the data pages directly below the
  // text, read-only. Their number and names differ between kernels; the
  // text finds them at fixed distances from itself.
  size_t first = t;
  while (first > 0 && rows[first - 1].end == rows[first].start &&
         rows[first - 1].name.rfind("[vvar", 0) == 0 && rows[first - 1].perms == "r--p")
    first--;
  if (first == t) return nullptr;
  const auto* ehdr = reinterpret_cast<const Elf64_Ehdr*>(text);
  uint64_t text_len = rows[t].end - rows[t].start;
  if (text_len < sizeof *ehdr || memcmp(ehdr->e_ident, ELFMAG, SELFMAG) != 0) return nullptr;
  auto* v = new HostVdso;
  v->data = reinterpret_cast<uint8_t*>(rows[first].start);
  v->data_len = rows[t].start - rows[first].start;
  v->text_len = text_len;
  for (size_t i = first; i < t; i++)
    v->data_rows.push_back(
        {rows[i].name, rows[i].start - rows[first].start, rows[i].end - rows[i].start});
  v->text_fd = text_memfd(reinterpret_cast<const uint8_t*>(text), text_len);
  if (v->text_fd < 0) {
    delete v;
    return nullptr;
  }
  return v;
}

}  // namespace

const HostVdso* host_vdso() {
  static const HostVdso* const v = find_host_vdso();
  return v;
}

}  // namespace elfuse
