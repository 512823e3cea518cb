// The smallest test: printf to stdout, a line on stderr, exit 0.
#include <stdio.h>

int main(void) {
  printf("Hello from a static program\n");
  fprintf(stderr, "and a line on stderr\n");
  return 0;
}
