// --trace formatting. The output imitates strace(1) (its default -s 32 string
// limit and quoting, flag and constant names, "= ?" for calls that do not
// return) so existing habits and tools for reading strace logs apply.
#include "syscalls/trace.h"

#include <cinttypes>
#include <cstdarg>
#include <cstring>
#include <initializer_list>

#include "abi/linux.h"
#include "mm/memory_manager.h"

namespace elfuse {
namespace {

constexpr size_t kMaxStrChars = 32;  // strace -s default
constexpr int kAtFdcwd = -100;

[[gnu::format(printf, 1, 2)]] std::string fmt(const char* f, ...) {
  char buf[128];
  va_list ap;
  va_start(ap, f);
  vsnprintf(buf, sizeof(buf), f, ap);
  va_end(ap);
  return buf;
}

std::string hex(uint64_t v) {
  return fmt("0x%" PRIx64, v);
}
std::string ptr(uint64_t v) {
  return v == 0 ? "NULL" : hex(v);
}

struct Named {
  uint64_t value;
  const char* name;
};

// Bits named in table order (a multi-bit entry such as O_SYNC matches only
// when all its bits are set and consumes them), then the rest in hex.
std::string flag_str(uint64_t v, std::initializer_list<Named> table, const char* zero = "0") {
  std::string s;
  for (const auto& n : table) {
    if (n.value != 0 && (v & n.value) == n.value) {
      if (!s.empty()) s += '|';
      s += n.name;
      v &= ~n.value;
    }
  }
  if (v != 0) {
    if (!s.empty()) s += '|';
    s += hex(v);
  }
  return s.empty() ? zero : s;
}

// A constant from a table, or strace's `0x5 /* SEEK_??? */`.
std::string enum_str(uint64_t v, std::initializer_list<Named> table, const char* prefix) {
  for (const auto& n : table)
    if (n.value == v) return n.name;
  return fmt("%s /* %s??? */", hex(v).c_str(), prefix);
}

// strace's string_quote(): C escapes for \t \n \v \f \r " \, printable ASCII
// as is, other bytes in octal with the fewest digits unless an octal digit
// follows.
std::string quote_bytes(const std::string& b) {
  std::string s = "\"";
  for (size_t i = 0; i < b.size(); i++) {
    unsigned char c = static_cast<unsigned char>(b[i]);
    switch (c) {
      case '"':
        s += "\\\"";
        continue;
      case '\\':
        s += "\\\\";
        continue;
      case '\f':
        s += "\\f";
        continue;
      case '\n':
        s += "\\n";
        continue;
      case '\r':
        s += "\\r";
        continue;
      case '\t':
        s += "\\t";
        continue;
      case '\v':
        s += "\\v";
        continue;
      default:
        break;
    }
    if (c >= 0x20 && c < 0x7f) {
      s += static_cast<char>(c);
      continue;
    }
    s += '\\';
    bool next_is_octal_digit = i + 1 < b.size() && b[i + 1] >= '0' && b[i + 1] <= '7';
    if (next_is_octal_digit || (c >> 6) != 0) {
      s += static_cast<char>('0' + (c >> 6));
      s += static_cast<char>('0' + ((c >> 3) & 7));
    } else if ((c >> 3) != 0) {
      s += static_cast<char>('0' + ((c >> 3) & 7));
    }
    s += static_cast<char>('0' + (c & 7));
  }
  s += '"';
  return s;
}

// A NUL-terminated guest string, read in pieces that never cross a page so
// that a string ending just before unmapped memory still reads. `complete`
// is false when no NUL came within max bytes.
Result<std::string> read_cstring(const GuestReader& read, uint64_t addr, uint64_t max,
                                 bool* complete) {
  std::string s;
  *complete = false;
  while (s.size() < max) {
    uint64_t cur = addr + s.size();
    uint64_t chunk = std::min<uint64_t>({256, 4096 - (cur & 4095), max - s.size()});
    auto r = read(cur, chunk);
    if (!r) {
      // The string may end before the unreadable part: go byte by byte.
      std::string part;
      for (uint64_t i = 0; i < chunk; i++) {
        auto b = read(cur + i, 1);
        if (!b) break;
        part += *b;
        if (b->front() == '\0') break;
      }
      if (part.empty() || part.back() != '\0') {
        if (s.empty() && part.empty()) return Errno{r.error()};
        return s + part;  // unreadable tail: show what was there
      }
      r = std::move(part);
    }
    size_t nul = r->find('\0');
    if (nul != std::string::npos) {
      s.append(*r, 0, nul);
      *complete = true;
      return s;
    }
    s += *r;
  }
  return s;
}

std::string render_path(const GuestReader& read, uint64_t addr) {
  if (addr == 0) return "NULL";
  bool complete;
  auto s = read_cstring(read, addr, kPathMax, &complete);
  if (!s) return hex(addr);
  return quote_bytes(*s) + (complete ? "" : "...");
}

// A buffer of `len` bytes shown as a string of at most `limit` bytes.
std::string render_buffer(const GuestReader& read, uint64_t addr, uint64_t len, uint64_t limit) {
  if (addr == 0) return "NULL";
  uint64_t n = std::min(len, limit);
  auto s = n == 0 ? Result<std::string>(std::string()) : read(addr, n);
  if (!s) return hex(addr);
  return trace_quote(*s, len > n);
}

bool style_is(const TraceRecord& rec, TraceStyle style) {
  return rec.info && rec.info->trace == style;
}

// ---- constant tables (x86_64 values, include/uapi/...) ----

std::string open_flags(uint64_t v, bool with_accmode) {
  v = static_cast<uint32_t>(v);
  std::string acc;
  if (with_accmode) {
    static const char* const kAcc[] = {"O_RDONLY", "O_WRONLY", "O_RDWR", "O_ACCMODE"};
    acc = kAcc[v & 3];
    v &= ~3ull;
    if (v == 0) return acc;
  }
  // strace's order (xlat/open_mode_flags.in).
  std::string rest = flag_str(v, {{0100, "O_CREAT"},
                                  {0200, "O_EXCL"},
                                  {0400, "O_NOCTTY"},
                                  {01000, "O_TRUNC"},
                                  {02000, "O_APPEND"},
                                  {04000, "O_NONBLOCK"},
                                  {04010000, "O_SYNC"},
                                  {010000, "O_DSYNC"},
                                  {040000, "O_DIRECT"},
                                  {0100000, "O_LARGEFILE"},
                                  {0400000, "O_NOFOLLOW"},
                                  {01000000, "O_NOATIME"},
                                  {02000000, "O_CLOEXEC"},
                                  {010000000, "O_PATH"},
                                  {020200000, "O_TMPFILE"},
                                  {020000000, "__O_TMPFILE"},
                                  {0200000, "O_DIRECTORY"},
                                  {020000, "FASYNC"}});
  if (!with_accmode) return rest;
  return acc + "|" + rest;
}

std::string signal_name(uint64_t v) {
  static const char* const kNames[] = {
      "0",         "SIGHUP",  "SIGINT",    "SIGQUIT", "SIGILL",   "SIGTRAP", "SIGABRT", "SIGBUS",
      "SIGFPE",    "SIGKILL", "SIGUSR1",   "SIGSEGV", "SIGUSR2",  "SIGPIPE", "SIGALRM", "SIGTERM",
      "SIGSTKFLT", "SIGCHLD", "SIGCONT",   "SIGSTOP", "SIGTSTP",  "SIGTTIN", "SIGTTOU", "SIGURG",
      "SIGXCPU",   "SIGXFSZ", "SIGVTALRM", "SIGPROF", "SIGWINCH", "SIGIO",   "SIGPWR",  "SIGSYS"};
  int sig = static_cast<int>(static_cast<uint32_t>(v));
  if (sig >= 0 && sig < 32) return kNames[sig];
  if (sig == 32) return "SIGRTMIN";
  if (sig > 32 && sig <= 64) return fmt("SIGRT_%d", sig - 32);
  return fmt("%d", sig);
}

std::string at_flags(const TraceRecord& rec, uint64_t v) {
  v = static_cast<uint32_t>(v);
  bool eaccess = style_is(rec, TraceStyle::tAccess);
  if (style_is(rec, TraceStyle::tStatx)) {
    std::string s = flag_str(v,
                             {{0x100, "AT_SYMLINK_NOFOLLOW"},
                              {0x800, "AT_NO_AUTOMOUNT"},
                              {0x1000, "AT_EMPTY_PATH"},
                              {0x2000, "AT_STATX_FORCE_SYNC"},
                              {0x4000, "AT_STATX_DONT_SYNC"}},
                             "");
    if ((v & 0x6000) == 0) s = s.empty() ? "AT_STATX_SYNC_AS_STAT" : "AT_STATX_SYNC_AS_STAT|" + s;
    return s;
  }
  return flag_str(v, {{0x100, "AT_SYMLINK_NOFOLLOW"},
                      {0x200, eaccess ? "AT_EACCESS" : "AT_REMOVEDIR"},
                      {0x400, "AT_SYMLINK_FOLLOW"},
                      {0x800, "AT_NO_AUTOMOUNT"},
                      {0x1000, "AT_EMPTY_PATH"},
                      {0x8000, "AT_RECURSIVE"}});
}

constexpr std::initializer_list<Named> kFcntlCmds = {
    {0, "F_DUPFD"},          {1, "F_GETFD"},
    {2, "F_SETFD"},          {3, "F_GETFL"},
    {4, "F_SETFL"},          {5, "F_GETLK"},
    {6, "F_SETLK"},          {7, "F_SETLKW"},
    {8, "F_SETOWN"},         {9, "F_GETOWN"},
    {10, "F_SETSIG"},        {11, "F_GETSIG"},
    {15, "F_SETOWN_EX"},     {16, "F_GETOWN_EX"},
    {36, "F_OFD_GETLK"},     {37, "F_OFD_SETLK"},
    {38, "F_OFD_SETLKW"},    {1024, "F_SETLEASE"},
    {1025, "F_GETLEASE"},    {1026, "F_NOTIFY"},
    {1027, "F_DUPFD_QUERY"}, {1030, "F_DUPFD_CLOEXEC"},
    {1031, "F_SETPIPE_SZ"},  {1032, "F_GETPIPE_SZ"},
    {1033, "F_ADD_SEALS"},   {1034, "F_GET_SEALS"},
    {1035, "F_GET_RW_HINT"}, {1036, "F_SET_RW_HINT"},
};

constexpr std::initializer_list<Named> kIoctls = {
    {0x5401, "TCGETS"},         {0x5402, "TCSETS"},         {0x5403, "TCSETSW"},
    {0x5404, "TCSETSF"},        {0x5409, "TCSBRK"},         {0x540a, "TCXONC"},
    {0x540b, "TCFLSH"},         {0x540c, "TIOCEXCL"},       {0x540d, "TIOCNXCL"},
    {0x540e, "TIOCSCTTY"},      {0x540f, "TIOCGPGRP"},      {0x5410, "TIOCSPGRP"},
    {0x5411, "TIOCOUTQ"},       {0x5412, "TIOCSTI"},        {0x5413, "TIOCGWINSZ"},
    {0x5414, "TIOCSWINSZ"},     {0x5415, "TIOCMGET"},       {0x5416, "TIOCMBIS"},
    {0x5417, "TIOCMBIC"},       {0x5418, "TIOCMSET"},       {0x541b, "FIONREAD"},
    {0x541c, "TIOCLINUX"},      {0x5421, "FIONBIO"},        {0x5422, "TIOCNOTTY"},
    {0x5423, "TIOCSETD"},       {0x5424, "TIOCGETD"},       {0x5425, "TCSBRKP"},
    {0x5429, "TIOCGSID"},       {0x802c542a, "TCGETS2"},    {0x402c542b, "TCSETS2"},
    {0x402c542c, "TCSETSW2"},   {0x402c542d, "TCSETSF2"},   {0x80045430, "TIOCGPTN"},
    {0x40045431, "TIOCSPTLCK"}, {0x80045439, "TIOCGPTLCK"}, {0x80045440, "TIOCGEXCL"},
    {0x5441, "TIOCGPTPEER"},    {0x5450, "FIONCLEX"},       {0x5451, "FIOCLEX"},
    {0x5452, "FIOASYNC"},       {0x5460, "FIOQSIZE"},       {0x2, "FIGETBSZ"},
};

std::string render_arg(const TraceRecord& rec, const GuestReader& read, int i, int64_t result,
                       bool after) {
  const uint64_t v = rec.args.a[i];
  const ArgKind kind = rec.info->args[i];
  switch (kind) {
    case ArgKind::kNone:
      return "";
    case ArgKind::kInt:
      return fmt("%d", static_cast<int>(static_cast<uint32_t>(v)));
    case ArgKind::kUInt:
    case ArgKind::kSize:
      return fmt("%" PRIu64, v);
    case ArgKind::kHex:
      return v == 0 ? "0" : hex(v);
    case ArgKind::kPtr:
      return ptr(v);
    case ArgKind::kFd:
      return fmt("%d", static_cast<int>(static_cast<uint32_t>(v)));
    case ArgKind::kDirFd: {
      int fd = static_cast<int>(static_cast<uint32_t>(v));
      return fd == kAtFdcwd ? "AT_FDCWD" : fmt("%d", fd);
    }
    case ArgKind::kPath:
      return render_path(read, v);
    case ArgKind::kStrIn: {
      uint64_t len = i + 1 < 6 ? rec.args.a[i + 1] : 0;
      return render_buffer(read, v, len, kMaxStrChars);
    }
    case ArgKind::kStrOut: {
      // The bytes the call produced; only known after a successful call.
      if (!after || result < 0) return ptr(v);
      uint64_t len = static_cast<uint64_t>(result);
      if (style_is(rec, TraceStyle::tCwd)) {
        // getcwd returns the length including the NUL; strace shows the path.
        if (len > 0) len--;
        return render_buffer(read, v, len, kPathMax);
      }
      if (style_is(rec, TraceStyle::tLink)) return render_buffer(read, v, len, kPathMax);
      return render_buffer(read, v, len, kMaxStrChars);
    }
    case ArgKind::kOff:
      return fmt("%" PRId64, static_cast<int64_t>(v));
    case ArgKind::kOpenFlags: {
      return open_flags(v, style_is(rec, TraceStyle::tOpen));
    }
    case ArgKind::kMode:
      return fmt("%#03o", static_cast<unsigned>(v));
    case ArgKind::kProt:
      return flag_str(v,
                      {{1, "PROT_READ"},
                       {2, "PROT_WRITE"},
                       {4, "PROT_EXEC"},
                       {8, "PROT_SEM"},
                       {0x01000000, "PROT_GROWSDOWN"},
                       {0x02000000, "PROT_GROWSUP"}},
                      "PROT_NONE");
    case ArgKind::kMmapFlags: {
      uint64_t type = v & 0xf;
      std::string s = type == 1   ? "MAP_SHARED"
                      : type == 2 ? "MAP_PRIVATE"
                      : type == 3 ? "MAP_SHARED_VALIDATE"
                      : type == 8 ? "MAP_DROPPABLE"
                                  : fmt("%s /* MAP_??? */", hex(type).c_str());
      uint64_t huge = (v >> 26) & 0x3f;
      std::string rest = flag_str(v & ~0xfull & ~(0x3full << 26),
                                  {{0x10, "MAP_FIXED"},
                                   {0x20, "MAP_ANONYMOUS"},
                                   {0x40, "MAP_32BIT"},
                                   {0x8000, "MAP_POPULATE"},
                                   {0x10000, "MAP_NONBLOCK"},
                                   {0x100, "MAP_GROWSDOWN"},
                                   {0x800, "MAP_DENYWRITE"},
                                   {0x1000, "MAP_EXECUTABLE"},
                                   {0x2000, "MAP_LOCKED"},
                                   {0x4000, "MAP_NORESERVE"},
                                   {0x20000, "MAP_STACK"},
                                   {0x40000, "MAP_HUGETLB"},
                                   {0x80000, "MAP_SYNC"},
                                   {0x100000, "MAP_FIXED_NOREPLACE"},
                                   {0x4000000, "MAP_UNINITIALIZED"}},
                                  "");
      if (!rest.empty()) s += "|" + rest;
      if (huge) s += fmt("|%d<<MAP_HUGE_SHIFT", static_cast<int>(huge));
      return s;
    }
    case ArgKind::kSignal:
      return signal_name(v);
    case ArgKind::kClockId:
      return enum_str(static_cast<uint32_t>(v),
                      {{0, "CLOCK_REALTIME"},
                       {1, "CLOCK_MONOTONIC"},
                       {2, "CLOCK_PROCESS_CPUTIME_ID"},
                       {3, "CLOCK_THREAD_CPUTIME_ID"},
                       {4, "CLOCK_MONOTONIC_RAW"},
                       {5, "CLOCK_REALTIME_COARSE"},
                       {6, "CLOCK_MONOTONIC_COARSE"},
                       {7, "CLOCK_BOOTTIME"},
                       {8, "CLOCK_REALTIME_ALARM"},
                       {9, "CLOCK_BOOTTIME_ALARM"},
                       {11, "CLOCK_TAI"}},
                      "CLOCK_");
    case ArgKind::kAtFlags:
      return at_flags(rec, v);
    case ArgKind::kWhence:
      return enum_str(
          static_cast<uint32_t>(v),
          {{0, "SEEK_SET"}, {1, "SEEK_CUR"}, {2, "SEEK_END"}, {3, "SEEK_DATA"}, {4, "SEEK_HOLE"}},
          "SEEK_");
    case ArgKind::kFcntlCmd:
      return enum_str(static_cast<uint32_t>(v), kFcntlCmds, "F_");
    case ArgKind::kIoctlReq: {
      for (const auto& n : kIoctls)
        if (n.value == static_cast<uint32_t>(v)) return n.name;
      return hex(static_cast<uint32_t>(v));
    }
    case ArgKind::kArchPrctl:
      return enum_str(v,
                      {{0x1001, "ARCH_SET_GS"},
                       {0x1002, "ARCH_SET_FS"},
                       {0x1003, "ARCH_GET_FS"},
                       {0x1004, "ARCH_GET_GS"},
                       {0x1011, "ARCH_GET_CPUID"},
                       {0x1012, "ARCH_SET_CPUID"},
                       {0x1021, "ARCH_GET_XCOMP_SUPP"},
                       {0x1022, "ARCH_GET_XCOMP_PERM"},
                       {0x1023, "ARCH_REQ_XCOMP_PERM"},
                       {0x2001, "ARCH_MAP_VDSO_X32"},
                       {0x2002, "ARCH_MAP_VDSO_32"},
                       {0x2003, "ARCH_MAP_VDSO_64"},
                       {0x3001, "ARCH_SHSTK_ENABLE"},
                       {0x3002, "ARCH_SHSTK_DISABLE"},
                       {0x3003, "ARCH_SHSTK_LOCK"},
                       {0x3004, "ARCH_SHSTK_UNLOCK"},
                       {0x3005, "ARCH_SHSTK_STATUS"},
                       {0x4001, "ARCH_GET_UNTAG_MASK"},
                       {0x4002, "ARCH_ENABLE_TAGGED_ADDR"},
                       {0x4003, "ARCH_GET_MAX_TAG_BITS"},
                       {0x4004, "ARCH_FORCE_TAGGED_SVA"}},
                      "ARCH_");
    case ArgKind::kMadvise:
      return enum_str(
          static_cast<uint32_t>(v),
          {{0, "MADV_NORMAL"},           {1, "MADV_RANDOM"},         {2, "MADV_SEQUENTIAL"},
           {3, "MADV_WILLNEED"},         {4, "MADV_DONTNEED"},       {8, "MADV_FREE"},
           {9, "MADV_REMOVE"},           {10, "MADV_DONTFORK"},      {11, "MADV_DOFORK"},
           {12, "MADV_MERGEABLE"},       {13, "MADV_UNMERGEABLE"},   {14, "MADV_HUGEPAGE"},
           {15, "MADV_NOHUGEPAGE"},      {16, "MADV_DONTDUMP"},      {17, "MADV_DODUMP"},
           {18, "MADV_WIPEONFORK"},      {19, "MADV_KEEPONFORK"},    {20, "MADV_COLD"},
           {21, "MADV_PAGEOUT"},         {22, "MADV_POPULATE_READ"}, {23, "MADV_POPULATE_WRITE"},
           {24, "MADV_DONTNEED_LOCKED"}, {25, "MADV_COLLAPSE"},      {100, "MADV_HWPOISON"},
           {101, "MADV_SOFT_OFFLINE"}},
          "MADV_");
    case ArgKind::kMremapFlags:
      return flag_str(v, {{1, "MREMAP_MAYMOVE"}, {2, "MREMAP_FIXED"}, {4, "MREMAP_DONTUNMAP"}});
    case ArgKind::kAccessMode:
      return flag_str(static_cast<uint32_t>(v), {{4, "R_OK"}, {2, "W_OK"}, {1, "X_OK"}}, "F_OK");
    case ArgKind::kPrctlOp:
      return enum_str(static_cast<uint32_t>(v),
                      {{1, "PR_SET_PDEATHSIG"},
                       {2, "PR_GET_PDEATHSIG"},
                       {3, "PR_GET_DUMPABLE"},
                       {4, "PR_SET_DUMPABLE"},
                       {7, "PR_GET_KEEPCAPS"},
                       {8, "PR_SET_KEEPCAPS"},
                       {15, "PR_SET_NAME"},
                       {16, "PR_GET_NAME"},
                       {21, "PR_GET_SECCOMP"},
                       {22, "PR_SET_SECCOMP"},
                       {23, "PR_CAPBSET_READ"},
                       {24, "PR_CAPBSET_DROP"},
                       {29, "PR_SET_TIMERSLACK"},
                       {30, "PR_GET_TIMERSLACK"},
                       {35, "PR_SET_MM"},
                       {36, "PR_SET_CHILD_SUBREAPER"},
                       {37, "PR_GET_CHILD_SUBREAPER"},
                       {38, "PR_SET_NO_NEW_PRIVS"},
                       {39, "PR_GET_NO_NEW_PRIVS"},
                       {40, "PR_GET_TID_ADDRESS"},
                       {41, "PR_SET_THP_DISABLE"},
                       {42, "PR_GET_THP_DISABLE"},
                       {47, "PR_CAP_AMBIENT"},
                       {52, "PR_GET_SPECULATION_CTRL"},
                       {53, "PR_SET_SPECULATION_CTRL"},
                       {0x53564d41, "PR_SET_VMA"},
                       {0x59616d61, "PR_SET_PTRACER"}},
                      "PR_");
    case ArgKind::kSigprocHow:
      return enum_str(static_cast<uint32_t>(v),
                      {{0, "SIG_BLOCK"}, {1, "SIG_UNBLOCK"}, {2, "SIG_SETMASK"}}, "SIG_");
  }
  return hex(v);
}

// Whether argument i is printed at all: strace leaves out open's mode
// without O_CREAT/O_TMPFILE, and fcntl's argument for commands without one.
bool arg_shown(const TraceRecord& rec, int i) {
  ArgKind kind = rec.info->args[i];
  if (kind == ArgKind::kNone) return false;
  if (i > 0 && kind == ArgKind::kMode && rec.info->args[i - 1] == ArgKind::kOpenFlags)
    return (rec.args.a[i - 1] & (0100 | 020000000)) != 0;
  if (i > 0 && rec.info->args[i - 1] == ArgKind::kFcntlCmd) {
    switch (static_cast<uint32_t>(rec.args.a[i - 1])) {
      case 1:
      case 3:
      case 9:
      case 11:
      case 1025:
      case 1032:
      case 1034:
        return false;  // F_GETFD F_GETFL F_GETOWN F_GETSIG F_GETLEASE F_GETPIPE_SZ F_GET_SEALS
      default:
        return true;
    }
  }
  return true;
}

// fcntl's third argument depends on the command.
std::string fcntl_arg(const TraceRecord& rec, uint64_t v) {
  switch (static_cast<uint32_t>(rec.args.a[1])) {
    case 2:
      return v == 1 ? "FD_CLOEXEC" : flag_str(v, {{1, "FD_CLOEXEC"}});  // F_SETFD
    case 4:
      return open_flags(v, true);  // F_SETFL
    case 0:
    case 8:
    case 10:
    case 1024:
    case 1026:
    case 1027:
    case 1030:
    case 1031:
    case 1033:
      return fmt("%" PRId64, static_cast<int64_t>(v));
    default:
      return ptr(v);
  }
}

std::string errno_text(int64_t result) {
  int e = static_cast<int>(-result);
  // Kernel-internal restart codes (include/linux/errno.h) must never reach
  // the guest; name them so a leak is obvious in the trace.
  switch (e) {
    case 512:
      return "-1 ERESTARTSYS (To be restarted if SA_RESTART is set)";
    case 513:
      return "-1 ERESTARTNOINTR (To be restarted)";
    case 514:
      return "-1 ERESTARTNOHAND (To be restarted if no handler)";
    case 515:
      return "-1 ENOIOCTLCMD (No ioctl command)";
    case 516:
      return "-1 ERESTART_RESTARTBLOCK (Interrupted by signal)";
    default:
      break;
  }
  const char* name = strerrorname_np(e);
  char buf[128];
  const char* text = strerror_r(e, buf, sizeof(buf));
  if (!name) return fmt("-1 E??? (%s)", text);
  return fmt("-1 %s (%s)", name, text);
}

std::string result_text(const TraceRecord& rec, int64_t result, Outcome outcome) {
  if (outcome == Outcome::kExitThread || outcome == Outcome::kExitGroup) return "?";
  if (style_is(rec, TraceStyle::tExit)) return "?";
  if (outcome == Outcome::kNoReturn) return style_is(rec, TraceStyle::tExec) ? "0" : "?";
  if (result < 0 && result >= -4095) return errno_text(result);
  if (style_is(rec, TraceStyle::tAddr))
    return result == 0 ? "0" : hex(static_cast<uint64_t>(result));
  if (style_is(rec, TraceStyle::tOctal)) return fmt("%#03o", static_cast<unsigned>(result));
  if (style_is(rec, TraceStyle::tFcntl)) {
    uint32_t cmd = static_cast<uint32_t>(rec.args.a[1]);
    if (cmd == 3)  // F_GETFL
      return fmt("%s (flags %s)", hex(static_cast<uint64_t>(result)).c_str(),
                 open_flags(static_cast<uint64_t>(result), true).c_str());
    if (cmd == 1)  // F_GETFD
      return result == 0
                 ? "0"
                 : fmt("%s (flags %s)", hex(static_cast<uint64_t>(result)).c_str(),
                       flag_str(static_cast<uint64_t>(result), {{1, "FD_CLOEXEC"}}).c_str());
  }
  return fmt("%" PRId64, result);
}

bool captured_early(ArgKind k) {
  return k == ArgKind::kPath || k == ArgKind::kStrIn;
}

}  // namespace

std::string trace_quote(const std::string& bytes, bool truncated) {
  return quote_bytes(bytes) + (truncated ? "..." : "");
}

TraceRecord trace_begin(const SyscallInfo* info, GuestReader read, const SyscallArgs& args) {
  TraceRecord rec;
  rec.args = args;
  rec.info = info;
  rec.read = std::move(read);
  if (!info) return rec;
  rec.no_return = style_is(rec, TraceStyle::tExit);
  for (int i = 0; i < 6; i++)
    if (captured_early(info->args[i]) && arg_shown(rec, i))
      rec.early[i] = render_arg(rec, rec.read, i, 0, false);
  return rec;
}

TraceRecord trace_begin(GuestReader read, const SyscallArgs& args) {
  return trace_begin(syscall_info(args.nr), std::move(read), args);
}

std::string trace_format(const TraceRecord& rec, int64_t result) {
  const GuestReader& read = rec.read;
  Outcome outcome = rec.outcome ? *rec.outcome : Outcome::kReturn;
  if (rec.no_return) outcome = Outcome::kExitGroup;
  std::string line;
  if (!rec.info) {
    // A number Linux does not have: all six registers, as strace does.
    line = fmt("syscall_%s(", hex(rec.args.nr).c_str());
    for (int i = 0; i < 6; i++) {
      if (i) line += ", ";
      line += hex(rec.args.a[i]);
    }
    line += ")";
  } else {
    line = rec.info->name;
    line += '(';
    for (int i = 0; i < 6 && arg_shown(rec, i); i++) {
      if (i) line += ", ";
      if (!rec.early[i].empty())
        line += rec.early[i];
      else if (i > 0 && rec.info->args[i - 1] == ArgKind::kFcntlCmd)
        line += fcntl_arg(rec, rec.args.a[i]);
      else
        line += render_arg(rec, read, i, result, true);
    }
    line += ')';
  }
  line += " = ";
  if (rec.info)
    line += result_text(rec, result, outcome);
  else
    line += (result < 0 && result >= -4095) ? errno_text(result) : fmt("%" PRId64, result);
  return line;
}

void trace_end(FILE* out, const TraceRecord& rec, int64_t result) {
  std::string line = trace_format(rec, result);
  line += '\n';
  fwrite(line.data(), 1, line.size(), out);
  fflush(out);
}

GuestReader guest_reader(const MemoryManager& mm) {
  return [&mm](uint64_t addr, uint64_t len) -> Result<std::string> {
    std::string s(len, '\0');
    auto r = mm.copy_in(s.data(), addr, len);
    if (!r) return Errno{r.error()};
    return s;
  };
}

TraceRecord trace_begin(SyscallContext& ctx, const SyscallArgs& args) {
  TraceRecord rec = trace_begin(guest_reader(ctx.mm), args);
  rec.outcome = &ctx.outcome;
  return rec;
}

}  // namespace elfuse
