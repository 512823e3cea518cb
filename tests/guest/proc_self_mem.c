// /proc/self/mem: a process reads and writes its own memory through it
// (fs/proc/base.c mem_open, mem_rw, mem_lseek; mm/gup.c FOLL_FORCE rules).
// Every name of it (self, thread-self, the pid, a task, a thread's tid)
// opens for reading and writing; the offset is the address; reads of
// memory without PROT_READ succeed (VM_MAYREAD), writes to private memory
// without PROT_WRITE copy the page (never the file), shared memory without
// PROT_WRITE is EIO; a read that reaches unmapped memory stops there (EIO
// when nothing was read); lseek takes any 64-bit offset (SEEK_SET,
// SEEK_CUR; SEEK_END EINVAL); mmap is ENODEV; after execve an fd opened
// before reads nothing. Prints results and relations, never addresses.
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "common.h"
#include "own_dir.h"

#define OFF(p) ((off_t)(uintptr_t)(p))

static char data_buf[64] = "initialised data";
static const char ro_buf[32] = "read-only rodata";

__attribute__((noinline)) static int patched(void) {
  return 1;
}

static void show_read(const char* what, int fd, void* buf, size_t n, off_t at) {
  errno = 0;
  ssize_t r = pread(fd, buf, n, at);
  if (r < 0)
    printf("%s: -1 %s\n", what, errname(errno));
  else
    printf("%s: %zd\n", what, r);
}

static void show_write(const char* what, int fd, const void* buf, size_t n, off_t at) {
  errno = 0;
  ssize_t r = pwrite(fd, buf, n, at);
  if (r < 0)
    printf("%s: -1 %s\n", what, errname(errno));
  else
    printf("%s: %zd\n", what, r);
}

static void reads(int fd) {
  char buf[64];
  // Data, heap, stack.
  show_read("read data", fd, buf, 17, OFF(data_buf));
  CHECK(memcmp(buf, data_buf, 17) == 0);
  char* heap = malloc(100);
  strcpy(heap, "on the heap");
  show_read("read heap", fd, buf, 12, OFF(heap));
  CHECK(memcmp(buf, "on the heap", 12) == 0);
  char stack[16] = "on the stack";
  show_read("read stack", fd, buf, 13, OFF(stack));
  CHECK(memcmp(buf, "on the stack", 13) == 0);
  // Code.
  show_read("read code", fd, buf, 8, OFF(patched));
  CHECK(memcmp(buf, (const void*)patched, 8) == 0);
  free(heap);

  // A read that crosses into an unmapped page stops there; one that starts
  // there is EIO; so is address 0.
  char* two = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  memset(two, 'a', 8192);
  munmap(two + 4096, 4096);
  show_read("read across the end", fd, buf, 16, OFF(two + 4096 - 6));
  CHECK(memcmp(buf, "aaaaaa", 6) == 0);
  show_read("read unmapped", fd, buf, 16, OFF(two + 4096));
  show_read("read at 0", fd, buf, 16, 0);
  show_read("read 0 bytes unmapped", fd, buf, 0, OFF(two + 4096));
  // Memory without PROT_READ: read with FOLL_FORCE (VM_MAYREAD).
  mprotect(two, 4096, PROT_NONE);
  show_read("read PROT_NONE", fd, buf, 4, OFF(two));
  CHECK(memcmp(buf, "aaaa", 4) == 0);
  munmap(two, 4096);
  // A guest buffer that cannot be written.
  show_read("read into bad buffer", fd, (void*)8, 4, OFF(data_buf));
  show_read("pread64 negative offset", fd, buf, 4, -4096);
}

static void writes(int fd) {
  // Plain writable memory.
  show_write("write data", fd, "WRITTEN", 7, OFF(data_buf));
  printf("data now: %s\n", data_buf);
  // .rodata: private, read-only: the process's copy is written.
  show_write("write rodata", fd, "WRITTEN", 7, OFF(ro_buf));
  printf("rodata now: %s\n", (const char*)(volatile const char*)ro_buf);
  // Code: a breakpoint-style patch of a function (mov $2, %eax; ret).
  static const unsigned char ret2[] = {0xb8, 0x02, 0x00, 0x00, 0x00, 0xc3};
  show_write("write code", fd, ret2, sizeof ret2, OFF(patched));
  int (*volatile fn)(void) = patched;
  printf("patched() = %d\n", fn());
  // PROT_NONE anonymous memory: private, so written (copy on write).
  char* p = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  show_write("write PROT_NONE", fd, "xyz", 3, OFF(p));
  mprotect(p, 4096, PROT_READ);
  printf("PROT_NONE page now: %.3s\n", p);
  munmap(p, 4096);
  // Shared anonymous read-only: not a copy-on-write mapping: EIO.
  p = mmap(NULL, 4096, PROT_READ, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  show_write("write shared anon read-only", fd, "xyz", 3, OFF(p));
  munmap(p, 4096);
  // A buffer the guest cannot read.
  show_write("write from bad buffer", fd, (const void*)8, 4, OFF(data_buf));
  show_write("write unmapped", fd, "x", 1, 0);
}

static void file_mappings(int fd) {
  int f = open("mapped", O_RDWR | O_CREAT | O_TRUNC, 0600);
  if (f < 0 || write(f, "file contents...", 16) != 16) {
    printf("setup failed\n");
    return;
  }
  char buf[17] = {0};
  // MAP_PRIVATE PROT_READ: the private copy changes, the file does not.
  char* priv = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, f, 0);
  show_write("write private file mapping", fd, "PRIVATE", 7, OFF(priv));
  printf("private mapping now: %.16s\n", priv);
  pread(f, buf, 16, 0);
  printf("file now: %s\n", buf);
  // A page of the private mapping past the end of the file (SIGBUS on
  // access): nothing can be read there.
  munmap(priv, 4096);
  priv = mmap(NULL, 8192, PROT_READ, MAP_PRIVATE, f, 0);
  show_read("read past the end of the file", fd, buf, 4, OFF(priv + 4096));
  munmap(priv, 8192);
  // MAP_SHARED PROT_READ of a file open for writing (VM_MAYWRITE): EIO.
  char* shr = mmap(NULL, 4096, PROT_READ, MAP_SHARED, f, 0);
  show_write("write shared read-only file mapping", fd, "SHARED", 6, OFF(shr));
  show_read("read shared read-only file mapping", fd, buf, 4, OFF(shr));
  munmap(shr, 4096);
  // MAP_SHARED PROT_READ|PROT_WRITE: the file changes.
  shr = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, f, 0);
  show_write("write shared writable file mapping", fd, "SHARED", 6, OFF(shr));
  memset(buf, 0, sizeof buf);
  pread(f, buf, 16, 0);
  printf("file now: %s\n", buf);
  munmap(shr, 4096);
  close(f);
}

static void seeking(int fd) {
  char buf[8];
  off_t at = OFF(data_buf);
  CHECK(lseek(fd, at, SEEK_SET) == at);
  SHOW(read(fd, buf, 4));
  CHECK(memcmp(buf, data_buf, 4) == 0);
  CHECK(lseek(fd, 0, SEEK_CUR) == at + 4);
  CHECK(lseek(fd, -2, SEEK_CUR) == at + 2);
  SHOW(write(fd, "ZZ", 2));
  CHECK(lseek(fd, 0, SEEK_CUR) == at + 4);
  printf("data now: %s\n", data_buf);
  SHOW(lseek(fd, 0, SEEK_END));
  SHOW(lseek(fd, 0, SEEK_DATA));
  SHOW(lseek(fd, 0, 7));
  // Offsets are unsigned: the upper half is allowed.
  long r = syscall(SYS_lseek, fd, 0xffff800000000000ul, SEEK_SET);
  printf("lseek upper half: %s\n",
         (unsigned long)r == 0xffff800000000000ul ? "the offset" : "other");
  r = syscall(SYS_lseek, fd, 0, SEEK_CUR);
  printf("lseek cur: %s\n", (unsigned long)r == 0xffff800000000000ul ? "the offset" : "other");
  SHOW(read(fd, buf, 4));
  CHECK((unsigned long)syscall(SYS_lseek, fd, 0, SEEK_CUR) == 0xffff800000000000ul);
  // A read whose end would wrap past 2^64 (rw_verify_area).
  syscall(SYS_lseek, fd, -2L, SEEK_SET);
  SHOW(read(fd, buf, 4));
  // Back to a small offset through SEEK_CUR.
  syscall(SYS_lseek, fd, 0xffff800000000000ul, SEEK_SET);
  r = syscall(SYS_lseek, fd, (long)(0x800000000000ul + (unsigned long)at), SEEK_CUR);
  CHECK(r == at);
  SHOW(read(fd, buf, 2));
}

static void vectored(int fd) {
  char a[4], b[6];
  struct iovec v[2] = {{a, sizeof a}, {b, sizeof b}};
  strcpy(data_buf, "0123456789abcdef");
  SHOW(preadv(fd, v, 2, OFF(data_buf)));
  printf("%.4s|%.6s\n", a, b);
  // A second segment that starts at unmapped memory: the first's count.
  char* two = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  munmap(two + 4096, 4096);
  SHOW(preadv(fd, v, 2, OFF(two + 4096 - 4)));
  SHOW(preadv(fd, v, 2, OFF(two + 4096)));
  munmap(two, 4096);
  memcpy(a, "ABCD", 4);
  memcpy(b, "EFGHIJ", 6);
  SHOW(pwritev(fd, v, 2, OFF(data_buf)));
  printf("data now: %s\n", data_buf);
  lseek(fd, OFF(data_buf) + 2, SEEK_SET);
  SHOW(readv(fd, v, 2));
  printf("%.4s|%.6s\n", a, b);
  CHECK(lseek(fd, 0, SEEK_CUR) == OFF(data_buf) + 12);
  SHOW(syscall(SYS_preadv2, fd, v, 2, OFF(data_buf), 0, 0));
  SHOW(syscall(SYS_preadv2, fd, v, 2, OFF(data_buf), 0, 0x10 /* RWF_APPEND */));
  SHOW(syscall(SYS_preadv2, fd, v, 2, -1L, 0, 0));
  CHECK(lseek(fd, 0, SEEK_CUR) == OFF(data_buf) + 22);
}

static void* in_thread(void* arg) {
  char path[64], buf[8];
  snprintf(path, sizeof path, "/proc/%ld/mem", (long)syscall(SYS_gettid));
  int fd = open(path, O_RDONLY);
  printf("thread: open /proc/TID/mem: %s\n", fd < 0 ? errname(errno) : "ok");
  if (fd >= 0) {
    show_read("thread: read data", fd, buf, 4, OFF(data_buf));
    close(fd);
  }
  fd = open("/proc/thread-self/mem", O_RDONLY);
  printf("thread: open /proc/thread-self/mem: %s\n", fd < 0 ? errname(errno) : "ok");
  if (fd >= 0) close(fd);
  return arg;
}

static void names(void) {
  char path[64];
  const char* fixed[] = {"/proc/self/mem", "/proc/thread-self/mem"};
  for (int i = 0; i < 2; i++) {
    int fd = open(fixed[i], O_RDWR);
    printf("open %s: %s\n", fixed[i], fd < 0 ? errname(errno) : "ok");
    if (fd >= 0) close(fd);
  }
  snprintf(path, sizeof path, "/proc/%d/mem", getpid());
  int fd = open(path, O_RDWR);
  printf("open /proc/PID/mem: %s\n", fd < 0 ? errname(errno) : "ok");
  if (fd >= 0) close(fd);
  snprintf(path, sizeof path, "/proc/%d/task/%d/mem", getpid(), getpid());
  fd = open(path, O_WRONLY);
  printf("open /proc/PID/task/PID/mem: %s\n", fd < 0 ? errname(errno) : "ok");
  if (fd >= 0) close(fd);
  pthread_t t;
  pthread_create(&t, NULL, in_thread, NULL);
  pthread_join(t, NULL);

  // Modes: a read-only fd cannot write, a write-only one cannot read.
  char buf[4];
  fd = open("/proc/self/mem", O_RDONLY);
  show_write("write on O_RDONLY", fd, "x", 1, OFF(data_buf));
  printf("F_GETFL accmode: %d\n", fcntl(fd, F_GETFL) & O_ACCMODE);
  struct stat st;
  fstat(fd, &st);
  printf("fstat: mode %o size %ld\n", (unsigned)st.st_mode, (long)st.st_size);
  // The kernel's mem file has no mmap.
  void* m = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 0);
  printf("mmap: %s\n", m == MAP_FAILED ? errname(errno) : "mapped");
  m = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
  printf("mmap shared: %s\n", m == MAP_FAILED ? errname(errno) : "mapped");
  // Through dup: the same file, the same position.
  int d = dup(fd);
  lseek(fd, OFF(data_buf), SEEK_SET);
  CHECK(lseek(d, 0, SEEK_CUR) == OFF(data_buf));
  close(d);
  close(fd);
  fd = open("/proc/self/mem", O_WRONLY);
  show_read("read on O_WRONLY", fd, buf, 1, OFF(data_buf));
  close(fd);
}

// After execve, an fd opened before it reaches the old mm, which is gone:
// reads and writes move nothing.
static int after_exec(int fd) {
  char buf[8];
  off_t at = OFF(data_buf);
  SHOW(pread(fd, buf, 4, at));
  SHOW(pwrite(fd, "x", 1, at));
  CHECK(lseek(fd, at, SEEK_SET) == at);
  SHOW(read(fd, buf, 4));
  return 0;
}

int main(int argc, char** argv) {
  if (argc == 3 && strcmp(argv[1], "after-exec") == 0) {
    own_dir_adopt();
    return after_exec(atoi(argv[2]));
  }
  own_dir_enter();
  setvbuf(stdout, NULL, _IONBF, 0);
  names();
  int fd = open("/proc/self/mem", O_RDWR);
  if (fd < 0) {
    printf("open: %s\n", errname(errno));
    return 1;
  }
  reads(fd);
  writes(fd);
  file_mappings(fd);
  seeking(fd);
  vectored(fd);
  // An fd kept across execve (no O_CLOEXEC).
  char num[16];
  snprintf(num, sizeof num, "%d", fd);
  char* args[] = {argv[0], "after-exec", num, NULL};
  execv("/proc/self/exe", args);
  printf("execv: %s\n", errname(errno));
  return 1;
}
