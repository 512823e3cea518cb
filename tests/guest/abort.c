// abort(): the process dies by SIGABRT (exit status 134). Buffered stdout is not
// flushed by abort, so the line is flushed by hand.
#include <stdio.h>
#include <stdlib.h>

int main(void) {
  printf("about to abort\n");
  fflush(stdout);
  abort();
}
