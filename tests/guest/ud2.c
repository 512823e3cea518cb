// __builtin_trap (ud2): the process dies by SIGILL (exit status 132).
#include <stdio.h>

int main(void) {
  printf("about to execute ud2\n");
  fflush(stdout);
  __builtin_trap();
}
