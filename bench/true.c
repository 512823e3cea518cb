/* The static program bench/procs vfork_exec runs: exits 0 at once. */
int main(void) {
  return 0;
}
