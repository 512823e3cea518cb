// Finding 4 of docs/security.md: a #! line naming /proc/self/exe runs the
// calling program (the kernel opens the interpreter before the new program
// replaces the caller), never elfuse. The program writes such a script in a
// directory of its own and runs it; re-run as the interpreter (argv[0] is
// then "/proc/self/exe") it says so.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"

int main(int argc, char** argv) {
  if (argc >= 3 && strcmp(argv[argc - 1], "from-script") == 0) {
    printf("interpreter: the calling program (argv[0] %s, %d args)\n", argv[0], argc);
    return 0;
  }
  char dir[] = "/tmp/proc_exe_interp.XXXXXX";
  if (!mkdtemp(dir)) return 2;
  char script[128];
  snprintf(script, sizeof script, "%s/script", dir);
  FILE* f = fopen(script, "w");
  if (!f) return 2;
  fputs("#!/proc/self/exe\n", f);
  fclose(f);
  chmod(script, 0755);
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    char* args[] = {script, (char*)"from-script", NULL};
    char* env[] = {NULL};
    execve(script, args, env);
    printf("execve: %s\n", errname(errno));
    _exit(1);
  }
  int st = 0;
  waitpid(pid, &st, 0);
  printf("child: %s %d\n", WIFEXITED(st) ? "exit" : "signal",
         WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
  unlink(script);
  rmdir(dir);
  return 0;
}
