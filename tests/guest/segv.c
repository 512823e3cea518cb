// A NULL dereference: the process dies by SIGSEGV (exit status 139), natively and
// under elfuse. Nothing is printed after the fault.
#include <stdio.h>

int main(void) {
  printf("about to dereference NULL\n");
  fflush(stdout);
  *(volatile int*)0 = 1;
  printf("still alive\n");
  return 0;
}
