// Reads stdin (tests/guest/stdin_lines.stdin) and prints each line reversed, then
// the line and byte counts and what read() returns at end of file.
#include <stdlib.h>
#include <unistd.h>

#include "common.h"

int main(void) {
  char line[4096];
  int lines = 0;
  long bytes = 0;
  while (fgets(line, sizeof line, stdin)) {
    size_t n = strlen(line);
    bytes += n;
    if (n && line[n - 1] == '\n') line[--n] = 0;
    for (size_t i = 0; i < n / 2; i++) {
      char t = line[i];
      line[i] = line[n - 1 - i];
      line[n - 1 - i] = t;
    }
    printf("%d: %s\n", ++lines, line);
  }
  printf("lines = %d, bytes = %ld\n", lines, bytes);
  char c;
  SHOW(read(0, &c, 1));
  SHOW(lseek(0, 0, SEEK_SET));
  SHOW(read(0, &c, 1));
  return 0;
}
