// The host kernel's newer calls (x86_64 451-469 and uretprobe 335):
// cachestat, fchmodat2, map_shadow_stack, statmount/listmount, the LSM
// attribute calls, the *xattrat calls, open_tree_attr, file_getattr and
// file_setattr, each with its argument checks in the kernel's order, on
// files in the (fresh) working directory; uretprobe outside the uretprobe
// trampoline forces SIGILL. Raw numbers and local structs: glibc 2.36 has
// neither.
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"
#include "own_dir.h"

#define NR_uretprobe 335
#define NR_cachestat 451
#define NR_fchmodat2 452
#define NR_map_shadow_stack 453
#define NR_statmount 457
#define NR_listmount 458
#define NR_lsm_get_self_attr 459
#define NR_lsm_set_self_attr 460
#define NR_lsm_list_modules 461
#define NR_setxattrat 463
#define NR_getxattrat 464
#define NR_listxattrat 465
#define NR_removexattrat 466
#define NR_open_tree_attr 467
#define NR_file_getattr 468
#define NR_file_setattr 469

#ifndef AT_EMPTY_PATH
#define AT_EMPTY_PATH 0x1000
#endif

struct cachestat_range {
  uint64_t off, len;
};
struct cachestat {
  uint64_t nr_cache, nr_dirty, nr_writeback, nr_evicted, nr_recently_evicted;
};
struct mnt_id_req {
  uint32_t size, spare;
  uint64_t mnt_id, param, mnt_ns_id;
};
struct lsm_ctx {
  uint64_t id, flags, len, ctx_len;
};
struct xattr_args {
  uint64_t value;
  uint32_t size, flags;
};
struct mount_attr {
  uint64_t attr_set, attr_clr, propagation, userns_fd;
};
struct file_attr {
  uint64_t fa_xflags;
  uint32_t fa_extsize, fa_nextents, fa_projid, fa_cowextsize;
};

static void cachestat_(void) {
  printf("-- cachestat\n");
  int fd = open("cached", O_RDWR | O_CREAT | O_TRUNC, 0600);
  char buf[8192];
  memset(buf, 'x', sizeof buf);
  if (write(fd, buf, sizeof buf) != sizeof buf) perror("write");
  fsync(fd);
  struct cachestat_range r = {0, 0};
  struct cachestat cs;
  memset(&cs, 0xff, sizeof cs);
  OK(syscall(NR_cachestat, fd, &r, &cs, 0));
  printf("nr_cache %llu evicted %llu\n", (unsigned long long)cs.nr_cache,
         (unsigned long long)cs.nr_evicted);
  struct cachestat_range second = {4096, 4096};
  OK(syscall(NR_cachestat, fd, &second, &cs, 0));
  printf("nr_cache %llu\n", (unsigned long long)cs.nr_cache);
  SHOW(syscall(NR_cachestat, fd, &r, &cs, 1));
  SHOW(syscall(NR_cachestat, fd, NULL, &cs, 0));
  SHOW(syscall(NR_cachestat, fd, NULL, &cs, 1));  // the range before the flags
  SHOW(syscall(NR_cachestat, fd, &r, NULL, 0));
  SHOW(syscall(NR_cachestat, fd, &r, (void*)8, 1));
  SHOW(syscall(NR_cachestat, 9999, NULL, NULL, 1));  // the fd first
  SHOW(syscall(NR_cachestat, -1, &r, &cs, 0));
  close(fd);
}

static void fchmodat2_(void) {
  printf("-- fchmodat2\n");
  close(open("mode", O_RDWR | O_CREAT | O_TRUNC, 0600));
  symlink("mode", "link");
  struct stat st;
  OK(syscall(NR_fchmodat2, AT_FDCWD, "mode", 0640, 0));
  stat("mode", &st);
  printf("mode %o\n", st.st_mode & 07777);
  OK(syscall(NR_fchmodat2, AT_FDCWD, "link", 0604, 0));  // follows
  stat("mode", &st);
  printf("mode %o\n", st.st_mode & 07777);
  SHOW(syscall(NR_fchmodat2, AT_FDCWD, "link", 0600, AT_SYMLINK_NOFOLLOW));
  SHOW(syscall(NR_fchmodat2, AT_FDCWD, "mode", 0600, AT_SYMLINK_NOFOLLOW));
  SHOW(syscall(NR_fchmodat2, AT_FDCWD, "mode", 0600, 0x8000));
  SHOW(syscall(NR_fchmodat2, AT_FDCWD, NULL, 0600, 0x8000));  // flags first
  SHOW(syscall(NR_fchmodat2, AT_FDCWD, NULL, 0600, 0));
  SHOW(syscall(NR_fchmodat2, AT_FDCWD, "missing", 0600, 0));
  SHOW(syscall(NR_fchmodat2, AT_FDCWD, "", 0600, 0));
  int fd = open("mode", O_RDONLY);
  OK(syscall(NR_fchmodat2, fd, "", 0644, AT_EMPTY_PATH));
  fstat(fd, &st);
  printf("mode %o\n", st.st_mode & 07777);
  int dfd = open(".", O_RDONLY | O_DIRECTORY);
  OK(syscall(NR_fchmodat2, dfd, "mode", 0600, 0));
  stat("mode", &st);
  printf("mode %o\n", st.st_mode & 07777);
  SHOW(syscall(NR_fchmodat2, 9999, "mode", 0600, 0));
  OK(syscall(NR_fchmodat2, 9999, "/proc/self/cwd/mode", 0600, 0));  // absolute: no dirfd
  close(fd);
  close(dfd);
}

static void shadow_stack(void) {
  printf("-- map_shadow_stack\n");
  SHOW(syscall(NR_map_shadow_stack, 0, 4096, 0));
  SHOW(syscall(NR_map_shadow_stack, 0, 4096, ~0u));
}

static void mounts(void) {
  printf("-- listmount, statmount\n");
  uint64_t ids[512];
  struct mnt_id_req req = {sizeof req, 0, 0xffffffffffffffffull /* LSMT_ROOT */, 0, 0};
  errno = 0;
  long n = syscall(NR_listmount, &req, ids, 512, 0);
  printf("listmount count>0: %s %s\n", n > 0 ? "yes" : "no", errname(errno));
  SHOW(syscall(NR_listmount, &req, ids, 0, 0));
  SHOW(syscall(NR_listmount, &req, ids, 512, 0x100));
  SHOW(syscall(NR_listmount, NULL, ids, 512, 0));
  SHOW(syscall(NR_listmount, &req, NULL, 512, 0));
  SHOW(syscall(NR_listmount, &req, ids, 1ul << 60, 0));
  long few = syscall(NR_listmount, &req, ids, 1, 0);
  printf("listmount of 1: %ld\n", few);
  struct mnt_id_req bad = req;
  bad.size = 8;
  SHOW(syscall(NR_listmount, &bad, ids, 512, 0));
  bad.size = 8192;
  SHOW(syscall(NR_listmount, &bad, ids, 512, 0));
  bad = req;
  bad.spare = 1;
  SHOW(syscall(NR_listmount, &bad, ids, 512, 0));
  // A buffer far larger than the memory behind it: only the answer is
  // written.
  char* two = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  munmap(two + 4096, 4096);
  long m = syscall(NR_listmount, &req, (uint64_t*)two, 100000, 0);
  printf("listmount into a short buffer: same count: %s\n", m == n ? "yes" : "no");
  if (n > 0) {
    struct mnt_id_req sreq = {sizeof sreq, 0, ids[0], 0x1 /* STATMOUNT_SB_BASIC */, 0};
    static char sbuf[4096];
    errno = 0;
    long r = syscall(NR_statmount, &sreq, sbuf, sizeof sbuf, 0);
    uint32_t size;
    uint64_t mask;
    memcpy(&size, sbuf, 4);
    memcpy(&mask, sbuf + 8, 8);
    printf("statmount %ld %s size>0 %s mask %#llx\n", r, errname(errno), size > 0 ? "yes" : "no",
           (unsigned long long)mask);
    SHOW(syscall(NR_statmount, &sreq, sbuf, sizeof sbuf, 1));
    SHOW(syscall(NR_statmount, &sreq, NULL, sizeof sbuf, 0));
    SHOW(syscall(NR_statmount, &sreq, sbuf, 8, 0));
    r = syscall(NR_statmount, &sreq, two, 1ul << 30, 0);
    printf("statmount into a short buffer: %ld\n", r);
    sreq.mnt_id = 1;
    SHOW(syscall(NR_statmount, &sreq, sbuf, sizeof sbuf, 0));
    sreq.mnt_id = 0x100000000ull + 0x7ffffff0ull;
    SHOW(syscall(NR_statmount, &sreq, sbuf, sizeof sbuf, 0));
  }
}

static void lsm(void) {
  printf("-- lsm\n");
  uint64_t ids[32];
  uint32_t size = sizeof ids;
  errno = 0;
  long n = syscall(NR_lsm_list_modules, ids, &size, 0);
  int cap = 0;
  for (long i = 0; i < n; i++) cap |= ids[i] == 100;  // LSM_ID_CAPABILITY
  printf("list: count>0 %s size==8*count %s capability %s\n", n > 0 ? "yes" : "no",
         size == 8 * (uint64_t)n ? "yes" : "no", cap ? "yes" : "no");
  SHOW(syscall(NR_lsm_list_modules, ids, &size, 1));
  SHOW(syscall(NR_lsm_list_modules, ids, NULL, 0));
  uint32_t small = 4;
  SHOW(syscall(NR_lsm_list_modules, ids, &small, 0));
  printf("size after E2BIG == 8*count %s\n", small == 8 * (uint64_t)n ? "yes" : "no");
  static char buf[4096];
  uint32_t bsize = sizeof buf;
  SHOW(syscall(NR_lsm_get_self_attr, 100 /* LSM_ATTR_CURRENT */, buf, &bsize, 0));
  SHOW(syscall(NR_lsm_get_self_attr, 0, buf, &bsize, 0));
  SHOW(syscall(NR_lsm_get_self_attr, 100, buf, &bsize, 2));
  SHOW(syscall(NR_lsm_get_self_attr, 100, buf, NULL, 0));
  struct {
    struct lsm_ctx c;
    char text[32];
  } set;
  memset(&set, 0, sizeof set);
  set.c.id = 100;
  set.c.len = sizeof(struct lsm_ctx);
  SHOW(syscall(NR_lsm_set_self_attr, 100, &set, sizeof(struct lsm_ctx), 1));
  SHOW(syscall(NR_lsm_set_self_attr, 100, &set, 8, 0));
  SHOW(syscall(NR_lsm_set_self_attr, 100, &set, 8192, 0));
  SHOW(syscall(NR_lsm_set_self_attr, 100, NULL, sizeof(struct lsm_ctx), 0));
  SHOW(syscall(NR_lsm_set_self_attr, 100, &set, sizeof(struct lsm_ctx), 0));
  set.c.ctx_len = 8;
  SHOW(syscall(NR_lsm_set_self_attr, 100, &set, sizeof(struct lsm_ctx), 0));  // len too short
  set.c.len = sizeof(struct lsm_ctx) + 8;
  strcpy(set.text, "unconf");
  SHOW(syscall(NR_lsm_set_self_attr, 100, &set, sizeof set, 0));
  set.c.id = 104;  // AppArmor
  SHOW(syscall(NR_lsm_set_self_attr, 999, &set, sizeof set, 0));
}

static void xattrs(void) {
  printf("-- *xattrat\n");
  close(open("xa", O_RDWR | O_CREAT | O_TRUNC, 0600));
  symlink("xa", "xlink");
  char value[] = "hello";
  struct xattr_args args = {(uintptr_t)value, 5, 0};
  errno = 0;
  long r = syscall(NR_setxattrat, AT_FDCWD, "xa", 0, "user.test", &args, sizeof args);
  printf("setxattrat = %ld %s\n", r, errname(errno));
  int have = r == 0;
  char got[64];
  memset(got, 0, sizeof got);
  struct xattr_args gargs = {(uintptr_t)got, sizeof got, 0};
  errno = 0;
  r = syscall(NR_getxattrat, AT_FDCWD, "xlink", 0, "user.test", &gargs, sizeof gargs);
  printf("getxattrat = %ld %s '%s'\n", r, errname(errno), r > 0 ? got : "");
  gargs.size = 0;
  SHOW(syscall(NR_getxattrat, AT_FDCWD, "xa", 0, "user.test", &gargs, sizeof gargs));
  gargs.size = 2;
  SHOW(syscall(NR_getxattrat, AT_FDCWD, "xa", 0, "user.test", &gargs, sizeof gargs));
  gargs.size = sizeof got;
  gargs.flags = 1;
  SHOW(syscall(NR_getxattrat, AT_FDCWD, "xa", 0, "user.test", &gargs, sizeof gargs));
  gargs.flags = 0;
  SHOW(syscall(NR_getxattrat, AT_FDCWD, "xa", 0, "user.missing", &gargs, sizeof gargs));
  char list[256];
  errno = 0;
  r = syscall(NR_listxattrat, AT_FDCWD, "xa", 0, list, sizeof list);
  printf("listxattrat = %ld %s first '%s'\n", r, errname(errno), r > 0 ? list : "");
  SHOW(syscall(NR_listxattrat, AT_FDCWD, "xa", 0, NULL, 0));
  SHOW(syscall(NR_listxattrat, AT_FDCWD, "xa", 0, list, 1));
  SHOW(syscall(NR_listxattrat, AT_FDCWD, "xa", 0x400, list, sizeof list));
  int fd = open("xa", O_RDONLY);
  SHOW(syscall(NR_getxattrat, fd, "", AT_EMPTY_PATH, "user.test", &gargs, sizeof gargs));
  SHOW(syscall(NR_getxattrat, fd, "", 0, "user.test", &gargs, sizeof gargs));
  SHOW(syscall(NR_getxattrat, AT_FDCWD, "xlink", AT_SYMLINK_NOFOLLOW, "user.test", &gargs,
               sizeof gargs));
  SHOW(syscall(NR_setxattrat, AT_FDCWD, "xlink", AT_SYMLINK_NOFOLLOW, "user.test", &args,
               sizeof args));
  // struct xattr_args sizes and the at_flags.
  SHOW(syscall(NR_setxattrat, AT_FDCWD, "xa", 0, "user.test", &args, 8));
  SHOW(syscall(NR_setxattrat, AT_FDCWD, "xa", 0, "user.test", &args, 8192));
  struct {
    struct xattr_args a;
    uint64_t tail;
  } big = {{(uintptr_t)value, 5, 0}, 1};
  SHOW(syscall(NR_setxattrat, AT_FDCWD, "xa", 0, "user.test", &big, sizeof big));
  big.tail = 0;
  SHOW(syscall(NR_setxattrat, AT_FDCWD, "xa", 0, "user.test", &big, sizeof big));
  SHOW(syscall(NR_setxattrat, AT_FDCWD, "xa", 0, "user.test", NULL, sizeof args));
  SHOW(syscall(NR_setxattrat, AT_FDCWD, "xa", 0x400, "user.test", &args, sizeof args));
  args.flags = 1;  // XATTR_CREATE: it exists
  SHOW(syscall(NR_setxattrat, AT_FDCWD, "xa", 0, "user.test", &args, sizeof args));
  args.flags = 0;
  args.size = 70000;
  SHOW(syscall(NR_setxattrat, AT_FDCWD, "xa", 0, "user.test", &args, sizeof args));
  args.size = 5;
  args.value = 8;
  SHOW(syscall(NR_setxattrat, AT_FDCWD, "xa", 0, "user.test", &args, sizeof args));
  args.value = (uintptr_t)value;
  SHOW(syscall(NR_setxattrat, AT_FDCWD, "xa", 0, "", &args, sizeof args));
  SHOW(syscall(NR_setxattrat, AT_FDCWD, "missing", 0, "user.test", &args, sizeof args));
  SHOW(syscall(NR_setxattrat, AT_FDCWD, NULL, 0, "user.test", &args, sizeof args));
  SHOW(syscall(NR_removexattrat, AT_FDCWD, "xa", 0x400, "user.test"));
  SHOW(syscall(NR_removexattrat, AT_FDCWD, "xa", 0, "user.test"));
  SHOW(syscall(NR_removexattrat, AT_FDCWD, "xa", 0, "user.test"));
  SHOW(syscall(NR_removexattrat, fd, "", AT_EMPTY_PATH, "user.none"));
  (void)have;
  close(fd);
}

static void open_tree_attr_(void) {
  printf("-- open_tree_attr\n");
  errno = 0;
  long fd = syscall(NR_open_tree_attr, AT_FDCWD, ".", 0, NULL, 0);
  printf("open_tree_attr . = %s %s\n", fd >= 0 ? "fd" : "-1", errname(errno));
  if (fd >= 0) {
    struct stat a, b;
    fstat(fd, &a);
    stat(".", &b);
    printf("same dir: %s; O_PATH: %s\n", a.st_ino == b.st_ino ? "yes" : "no",
           (fcntl(fd, F_GETFL) & O_PATH) ? "yes" : "no");
    close(fd);
  }
  SHOW(syscall(NR_open_tree_attr, AT_FDCWD, ".", 0, NULL, 32));
  struct mount_attr none = {0, 0, 0, 0};
  errno = 0;
  fd = syscall(NR_open_tree_attr, AT_FDCWD, ".", 0, &none, sizeof none);
  printf("open_tree_attr with no change = %s %s\n", fd >= 0 ? "fd" : "-1", errname(errno));
  if (fd >= 0) close(fd);
  SHOW(syscall(NR_open_tree_attr, AT_FDCWD, ".", 0, &none, 8));
  SHOW(syscall(NR_open_tree_attr, AT_FDCWD, ".", 0, &none, 8192));
  SHOW(syscall(NR_open_tree_attr, AT_FDCWD, ".", 0, (void*)8, sizeof none));
  struct mount_attr bad = {0, 0, 0x12345, 0};  // unknown propagation
  SHOW(syscall(NR_open_tree_attr, AT_FDCWD, ".", 0, &bad, sizeof bad));
  SHOW(syscall(NR_open_tree_attr, AT_FDCWD, ".", 0x40000000, NULL, 0));
  SHOW(syscall(NR_open_tree_attr, AT_FDCWD, "missing", 0, &none, sizeof none));
}

static void file_attr_(void) {
  printf("-- file_getattr, file_setattr\n");
  close(open("fa", O_RDWR | O_CREAT | O_TRUNC, 0600));
  struct file_attr fa;
  memset(&fa, 0xff, sizeof fa);
  errno = 0;
  long r = syscall(NR_file_getattr, AT_FDCWD, "fa", &fa, sizeof fa, 0);
  printf("file_getattr = %ld %s xflags %#llx projid %u\n", r, errname(errno),
         r == 0 ? (unsigned long long)fa.fa_xflags : 0, r == 0 ? fa.fa_projid : 0);
  struct {
    struct file_attr f;
    uint32_t tail[3];
  } longer;
  memset(&longer, 0xff, sizeof longer);
  errno = 0;
  r = syscall(NR_file_getattr, AT_FDCWD, "fa", &longer, sizeof longer, 0);
  printf("longer = %ld %s tail zeroed %s\n", r, errname(errno),
         r == 0 ? (longer.tail[0] == 0 && longer.tail[2] == 0 ? "yes" : "no") : "-");
  SHOW(syscall(NR_file_getattr, AT_FDCWD, "fa", &fa, 20, 0));
  SHOW(syscall(NR_file_getattr, AT_FDCWD, "fa", &fa, 8192, 0));
  SHOW(syscall(NR_file_getattr, AT_FDCWD, "fa", &fa, sizeof fa, 0x400));
  SHOW(syscall(NR_file_getattr, AT_FDCWD, "fa", NULL, sizeof fa, 0));
  SHOW(syscall(NR_file_getattr, AT_FDCWD, "missing", &fa, sizeof fa, 0));
  SHOW(syscall(NR_file_getattr, AT_FDCWD, NULL, &fa, sizeof fa, 0));
  int fd = open("fa", O_RDONLY);
  SHOW(syscall(NR_file_getattr, fd, "", &fa, sizeof fa, AT_EMPTY_PATH));
  SHOW(syscall(NR_file_getattr, fd, "", &fa, sizeof fa, 0));
  struct file_attr set;
  memset(&set, 0, sizeof set);
  SHOW(syscall(NR_file_setattr, AT_FDCWD, "fa", &set, sizeof set, 0));
  set.fa_xflags = 0x80000000u;  // FS_XFLAG_HASATTR: not a settable flag
  SHOW(syscall(NR_file_setattr, AT_FDCWD, "fa", &set, sizeof set, 0));
  set.fa_xflags = 0;
  SHOW(syscall(NR_file_setattr, AT_FDCWD, "fa", &set, 20, 0));
  set.fa_xflags = 1ull << 40;  // no such flag
  SHOW(syscall(NR_file_setattr, AT_FDCWD, "fa", &set, sizeof set, 0));
  set.fa_xflags = 0;
  SHOW(syscall(NR_file_setattr, AT_FDCWD, "fa", &set, 8192, 0));
  SHOW(syscall(NR_file_setattr, AT_FDCWD, "fa", NULL, sizeof set, 0));
  SHOW(syscall(NR_file_setattr, AT_FDCWD, "missing", &set, sizeof set, 0));
  memset(&longer, 0, sizeof longer);
  longer.tail[1] = 1;
  SHOW(syscall(NR_file_setattr, AT_FDCWD, "fa", &longer, sizeof longer, 0));
  SHOW(syscall(NR_file_setattr, fd, "", &set, sizeof set, AT_EMPTY_PATH));
  close(fd);
}

static void on_ill(int sig, siginfo_t* si, void* uc) {
  (void)uc;
  printf("handler: sig %d code %d\n", sig, si->si_code);
}

static void uretprobe_child(int mode) {
  if (mode == 1) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_ill;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGILL, &sa, NULL);
  } else if (mode == 2) {
    signal(SIGILL, SIG_IGN);
  } else if (mode == 3) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_ill;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGILL, &sa, NULL);
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGILL);
    sigprocmask(SIG_BLOCK, &s, NULL);
  }
  errno = 0;
  long r = syscall(NR_uretprobe);
  printf("uretprobe returned %ld %s\n", r, errname(errno));
}

static void uretprobe_(void) {
  printf("-- uretprobe\n");
  for (int mode = 0; mode < 4; mode++) {
    fflush(stdout);
    pid_t p = fork();
    if (p == 0) {
      uretprobe_child(mode);
      fflush(stdout);
      _exit(0);
    }
    int st;
    waitpid(p, &st, 0);
    printf("mode %d: %s %d\n", mode, WIFSIGNALED(st) ? "signal" : "exit",
           WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
  }
}

int main(void) {
  own_dir_enter();
  setvbuf(stdout, NULL, _IOLBF, 0);
  cachestat_();
  fchmodat2_();
  shadow_stack();
  mounts();
  lsm();
  xattrs();
  open_tree_attr_();
  file_attr_();
  uretprobe_();
  return 0;
}
