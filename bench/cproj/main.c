/* The small C project's program: combines every part's hash (bench/cproj). */
#include <stdio.h>

#include "parts.h"

int main(void) {
  unsigned h = part1("a") ^ part2("b") ^ part3("c") ^ part4("d") ^ part5("e") ^ part6("f");
  printf("%08x\n", h);
  return 0;
}
