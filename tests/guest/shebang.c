// #! scripts (fs/binfmt_script.c): scripts written to the cwd are execve'd
// in forked children; the interpreter is this program itself, which prints
// the argv, AT_EXECFN, the task name and whether /proc/self/exe is itself.
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/auxv.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"
#include "own_dir.h"

static char self[PATH_MAX];

static int interpreter(int argc, char** argv) {
  printf("  argc=%d\n", argc);
  for (int i = 0; i < argc; i++) {
    // The interpreter's own path is the build directory's: print its role.
    if (strcmp(argv[i], self) == 0)
      printf("  argv[%d]=<interp>\n", i);
    else
      printf("  argv[%d]=[%s]\n", i, argv[i]);
  }
  const char* execfn = (const char*)getauxval(AT_EXECFN);
  printf("  execfn=[%s]\n", execfn ? execfn : "(null)");
  char comm[32] = {0};
  prctl(PR_GET_NAME, comm, 0, 0, 0);
  printf("  comm=[%s]\n", comm);
  char exe[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  exe[n > 0 ? n : 0] = 0;
  printf("  exe=%s\n", strcmp(exe, self) == 0 ? "<interp>" : exe);
  return 0;
}

static void write_file(const char* name, const char* data, size_t len, mode_t mode) {
  unlink(name);
  int fd = open(name, O_WRONLY | O_CREAT | O_TRUNC, mode);
  if (fd < 0 || write(fd, data, len) != (ssize_t)len) {
    perror(name);
    exit(1);
  }
  close(fd);
  chmod(name, mode);
}

static void script(const char* name, const char* text, mode_t mode) {
  write_file(name, text, strlen(text), mode);
}

// execve (dirfd < -100: plain execve; else execveat) in a child.
static void run_at(const char* title, int dirfd, const char* path, int flags) {
  printf("%s:\n", title);
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    char* argv[] = {"ARGV0", "x", "y z", NULL};
    char* envp[] = {"SHEBANG_INTERP=1", NULL};
    if (dirfd == -1000)
      execve(path, argv, envp);
    else
      syscall(SYS_execveat, dirfd, path, argv, envp, flags);
    printf("  exec failed: %s\n", errname(errno));
    fflush(stdout);
    _exit(0);
  }
  int st;
  waitpid(pid, &st, 0);
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) printf("  status %#x\n", st);
}

static void run(const char* title, const char* path) {
  run_at(title, -1000, path, 0);
}

int main(int argc, char** argv) {
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) return 1;
  self[n] = 0;
  if (getenv("SHEBANG_INTERP")) return interpreter(argc, argv);
  own_dir_enter();

  static char buf[PATH_MAX + 1024];
  snprintf(buf, sizeof buf, "#!%s\necho not reached\n", self);
  script("plain", buf, 0755);
  run("plain, relative", "./plain");
  run("plain, bare name", "plain");

  snprintf(buf, sizeof buf, "#!%s  one  arg \t \nrest\n", self);
  script("onearg", buf, 0755);
  run("one optional argument, inner blanks kept, trailing stripped", "./onearg");

  snprintf(buf, sizeof buf, "#! \t %s\targ\n", self);
  script("leading", buf, 0755);
  run("blanks before the interpreter", "./leading");

  snprintf(buf, sizeof buf, "#!%s", self);
  script("nonewline", buf, 0755);
  run("no newline, short file", "./nonewline");

  // A NUL ends the line for strnchr: no newline is seen.
  int len = snprintf(buf, sizeof buf, "#!%s", self);
  memcpy(buf + len, "\0 junk\n", 7);
  write_file("nul", buf, len + 7, 0755);
  run("NUL after the interpreter", "./nul");

  // A line longer than BINPRM_BUF_SIZE whose name is complete: the argument
  // is cut at byte 255.
  len = snprintf(buf, sizeof buf, "#!%s ", self);
  memset(buf + len, 'a', 400);
  strcpy(buf + len + 400, "\n");
  script("longarg", buf, 0755);
  run("long line, argument truncated", "./longarg");

  // An interpreter name that does not end within 256 bytes: ENOEXEC.
  strcpy(buf, "#!/");
  memset(buf + 3, 'b', 400);
  strcpy(buf + 403, "\n");
  script("longname", buf, 0755);
  run("interpreter name longer than the buffer", "./longname");

  script("empty", "#!\n", 0755);
  run("no interpreter", "./empty");
  script("blank", "#!  \t \n", 0755);
  run("only blanks", "./blank");
  script("missing", "#!/nonexistent/interp\n", 0755);
  run("missing interpreter", "./missing");
  snprintf(buf, sizeof buf, "#!%s\n", self);
  script("noexec", buf, 0644);
  run("script without execute permission", "./noexec");
  script("dirinterp", "#!/\n", 0755);
  run("interpreter is a directory", "./dirinterp");
  script("text", "echo no shebang\n", 0755);
  script("viatext", "#!./text\n", 0755);
  run("interpreter without #! and not ELF", "./viatext");
  script("noexecinterp", "#!./noexec\n", 0755);
  run("interpreter not executable", "./noexecinterp");

  // Nested interpreters: level0 is run by this program, levelN by level N-1.
  snprintf(buf, sizeof buf, "#!%s nested-arg\n", self);
  script("level0", buf, 0755);
  for (int i = 1; i <= 7; i++) {
    char name[32], text[64];
    snprintf(name, sizeof name, "level%d", i);
    snprintf(text, sizeof text, "#!./level%d%s\n", i - 1, i == 3 ? " with arg" : "");
    script(name, text, 0755);
  }
  for (int i = 1; i <= 7; i++) {
    char path[32], title[64];
    snprintf(path, sizeof path, "./level%d", i);
    snprintf(title, sizeof title, "nested, %d scripts", i + 1);
    run(title, path);
  }

  // execveat: relative to a directory fd, the name is /dev/fd/N/NAME; with a
  // close-on-exec fd that name dies with the exec, so a script gets ENOENT.
  int dfd = open(".", O_PATH | O_DIRECTORY);
  int dfd_cloexec = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
  int ffd = open("plain", O_PATH);
  run_at("execveat, dirfd + name", dfd, "plain", 0);
  run_at("execveat, close-on-exec dirfd + name", dfd_cloexec, "plain", 0);
  run_at("execveat, AT_EMPTY_PATH", ffd, "", AT_EMPTY_PATH);
  return 0;
}
