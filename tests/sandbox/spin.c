// spin [catch]: burns CPU time forever. With "catch", SIGXCPU is caught
// (once reported) and the loop goes on, as a program that will not stop by
// itself: RLIMIT_CPU's hard limit must still end it (SIGKILL).
#include <signal.h>
#include <string.h>
#include <unistd.h>

static volatile int seen;

static void on_xcpu(int sig) {
  (void)sig;
  if (!seen++) write(1, "SIGXCPU\n", 8);
}

int main(int argc, char** argv) {
  if (argc > 1 && !strcmp(argv[1], "catch")) signal(SIGXCPU, on_xcpu);
  write(1, "spinning\n", 9);
  volatile unsigned long n = 0;
  for (;;) n++;
}
