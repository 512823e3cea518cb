// exit(42) after output that is still in stdio's buffer: exit must flush it.
#include <stdio.h>
#include <stdlib.h>

int main(void) {
  printf("exiting with 42");
  exit(42);
}
