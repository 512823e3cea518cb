// splice, tee, vmsplice, copy_file_range and sendfile between files, pipes
// and sockets, with their offsets written back and the errors for bad
// offsets, flags and fds. Compared with native.
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "common.h"
#include "own_dir.h"

#define BAD ((void*)1)

static void show_file(const char* name) {
  char buf[64] = {0};
  int fd = open(name, O_RDONLY);
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  printf("%s: %zd [%s]\n", name, n, n > 0 ? buf : "");
}

int main(void) {
  own_dir_enter();
  setvbuf(stdout, NULL, _IONBF, 0);
  int f = open("src", O_RDWR | O_CREAT | O_TRUNC, 0644);
  if (f < 0 || write(f, "0123456789abcdef", 16) != 16) return 1;
  int p[2];
  if (pipe(p) < 0) return 1;

  // splice file -> pipe with an offset, written back; the file position
  // does not move.
  loff_t off = 4;
  SHOW(splice(f, &off, p[1], NULL, 6, 0));
  printf("off %lld pos %lld\n", (long long)off, (long long)lseek(f, 0, SEEK_CUR));
  int q[2];
  if (pipe(q) < 0) return 1;
  SHOW(tee(p[0], q[1], 100, SPLICE_F_NONBLOCK));
  char buf[32] = {0};
  SHOW(read(q[0], buf, sizeof buf));
  printf("tee copy: %s\n", buf);
  // pipe -> file at an offset.
  int g = open("dst", O_RDWR | O_CREAT | O_TRUNC, 0644);
  loff_t o2 = 2;
  if (write(g, "__", 2) != 2) return 1;
  SHOW(splice(p[0], NULL, g, &o2, 6, 0));
  printf("o2 %lld\n", (long long)o2);
  show_file("dst");

  // Errors, in the kernel's order.
  SHOW(splice(f, &off, p[1], NULL, 0, 0));  // len 0 first
  SHOW(splice(f, &off, p[1], NULL, 1, 0x100));
  SHOW(splice(1500, &off, p[1], NULL, 1, 0));
  SHOW(splice(f, BAD, p[1], NULL, 1, 0));
  SHOW(splice(p[0], BAD, g, NULL, 1, 0));  // ESPIPE before the copy
  SHOW(splice(f, NULL, g, NULL, 1, 0));    // neither is a pipe
  SHOW(tee(p[0], q[1], 1, 0x100));
  SHOW(tee(p[0], f, 1, 0));
  SHOW(tee(70000, q[1], 1, 0));

  // vmsplice: user memory into a pipe and back out.
  char a[] = "vm", b[] = "splice";
  struct iovec iv[2] = {{a, 2}, {b, 6}};
  SHOW(vmsplice(p[1], iv, 2, 0));
  char r1[4] = {0}, r2[8] = {0};
  struct iovec ov[2] = {{r1, 3}, {r2, 5}};
  SHOW(vmsplice(p[0], ov, 2, 0));
  printf("%s|%s\n", r1, r2);
  SHOW(vmsplice(p[1], BAD, 1, 0));
  SHOW(vmsplice(p[1], iv, 1025, 0));
  SHOW(vmsplice(p[1], iv, 0, 0));
  SHOW(vmsplice(p[1], iv, 1, 0x100));
  SHOW(vmsplice(1500, iv, 1, 0));
  struct iovec badv = {BAD, 4};
  SHOW(vmsplice(p[1], &badv, 1, 0));
  SHOW(vmsplice(f, iv, 1, 0));

  // copy_file_range with both offsets.
  loff_t in = 10, out = 0;
  int h = open("copy", O_RDWR | O_CREAT | O_TRUNC, 0644);
  SHOW(copy_file_range(f, &in, h, &out, 6, 0));
  printf("in %lld out %lld pos %lld\n", (long long)in, (long long)out,
         (long long)lseek(h, 0, SEEK_CUR));
  show_file("copy");
  SHOW(copy_file_range(f, NULL, h, NULL, 3, 0));  // from the file positions
  printf("pos %lld %lld\n", (long long)lseek(f, 0, SEEK_CUR), (long long)lseek(h, 0, SEEK_CUR));
  SHOW(copy_file_range(f, BAD, h, NULL, 3, 0));
  SHOW(copy_file_range(f, &in, h, BAD, 3, 0));
  SHOW(copy_file_range(f, &in, h, &out, 3, 1));
  SHOW(copy_file_range(1500, &in, h, &out, 3, 0));
  SHOW(copy_file_range(f, &in, 1500, &out, 3, 0));
  in = 100;
  SHOW(copy_file_range(f, &in, h, &out, 3, 0));  // at EOF: 0, offsets unchanged
  printf("in %lld\n", (long long)in);
  // An offset that can be read but not written: the data moves, then EFAULT.
  loff_t* ro = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  *ro = 0;
  mprotect(ro, 4096, PROT_READ);
  SHOW(copy_file_range(f, ro, h, NULL, 2, 0));
  printf("h pos %lld\n", (long long)lseek(h, 0, SEEK_CUR));

  // sendfile to a socket, with and without an offset.
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0) return 1;
  off_t so = 12;
  SHOW(sendfile(sv[0], f, &so, 100));
  printf("so %lld\n", (long long)so);
  lseek(f, 0, SEEK_SET);
  SHOW(sendfile(sv[0], f, NULL, 3));
  memset(buf, 0, sizeof buf);
  SHOW(read(sv[1], buf, sizeof buf));
  printf("sent: %s\n", buf);
  SHOW(sendfile(sv[0], f, BAD, 3));
  // splice socket -> pipe.
  SHOW(write(sv[0], "sock", 4));
  SHOW(splice(sv[1], NULL, q[1], NULL, 4, 0));
  memset(buf, 0, sizeof buf);
  SHOW(read(q[0], buf, sizeof buf));
  printf("via socket: %s\n", buf);
  unlink("src");
  unlink("dst");
  unlink("copy");
  return 0;
}
