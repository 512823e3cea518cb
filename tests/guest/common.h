// Helpers shared by the guest test programs. A guest program prints what it sees
// (return values, errno names, struct fields that do not depend on time or
// addresses); tests/compare.sh compares that output with the native run.
#ifndef ELFUSE_TESTS_GUEST_COMMON_H
#define ELFUSE_TESTS_GUEST_COMMON_H

#include <errno.h>
#include <stdio.h>
#include <string.h>

// clang-format off
#define E(x) {x, #x},
static const struct { int e; const char* name; } errnames_[] = {
    E(EPERM) E(ENOENT) E(ESRCH) E(EINTR) E(EIO) E(ENXIO) E(E2BIG) E(ENOEXEC) E(EBADF)
    E(ECHILD) E(EAGAIN) E(ENOMEM) E(EACCES) E(EFAULT) E(ENOTBLK) E(EBUSY) E(EEXIST)
    E(EXDEV) E(ENODEV) E(ENOTDIR) E(EISDIR) E(EINVAL) E(ENFILE) E(EMFILE) E(ENOTTY)
    E(ETXTBSY) E(EFBIG) E(ENOSPC) E(ESPIPE) E(EROFS) E(EMLINK) E(EPIPE) E(EDOM) E(ERANGE)
    E(EDEADLK) E(ENAMETOOLONG) E(ENOLCK) E(ENOSYS) E(ENOTEMPTY) E(ELOOP) E(ENOMSG)
    E(EIDRM) E(ENODATA) E(ETIME) E(EOVERFLOW) E(EBADFD) E(EILSEQ) E(ENOTSOCK)
    E(EDESTADDRREQ) E(EMSGSIZE) E(EPROTOTYPE) E(ENOPROTOOPT) E(EPROTONOSUPPORT)
    E(EOPNOTSUPP) E(EAFNOSUPPORT) E(EADDRINUSE) E(EADDRNOTAVAIL) E(ENETUNREACH)
    E(ECONNABORTED) E(ECONNRESET) E(ENOBUFS) E(EISCONN) E(ENOTCONN) E(ETIMEDOUT)
    E(ECONNREFUSED) E(EALREADY) E(EINPROGRESS) E(ESTALE) E(EDQUOT) E(ECANCELED)
    E(EOWNERDEAD) E(ENOTRECOVERABLE)
};
#undef E
// clang-format on

// The symbolic name of an errno value ("ENOENT"), "0" for 0.
static const char* errname(int e) {
  if (e == 0) return "0";
  for (unsigned i = 0; i < sizeof errnames_ / sizeof errnames_[0]; i++)
    if (errnames_[i].e == e) return errnames_[i].name;
  static char buf[32];
  snprintf(buf, sizeof buf, "errno%d", e);
  return buf;
}

// SHOW(expr): print the value of expr, or "-1 ENAME" when it is negative.
// OK(expr):   print "ok" when expr >= 0, or "-1 ENAME".
// CHECK(cond): print "yes" or "NO" for a condition.
static inline long show_(const char* what, long r, int value) {
  if (r < 0)
    printf("%s = %ld %s\n", what, r, errname(errno));
  else if (value)
    printf("%s = %ld\n", what, r);
  else
    printf("%s = ok\n", what);
  return r;
}
#define SHOW(expr) (errno = 0, show_(#expr, (long)(expr), 1))
#define OK(expr) (errno = 0, show_(#expr, (long)(expr), 0))
#define CHECK(cond) printf("%s: %s\n", #cond, (cond) ? "yes" : "NO")

#endif
