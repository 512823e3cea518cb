// Calls whose answer under elfuse is decided rather than the host's: the
// features elfuse leaves out answer as a Linux configured without them, and
// the privileged calls it refuses answer EPERM even for root. Run under
// elfuse only (tests/decided_test.sh): natively, as root, several of them
// would succeed. Every call here is harmless if it did reach the host
// (names and time zones are set to their current values, filters allow
// everything). stdout must match decided.expected and stderr must be empty
// (no "not implemented" notice).
#define _GNU_SOURCE
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <unistd.h>

static void show(const char* what, long r) {
  printf("%s: %ld %s\n", what, r, r < 0 ? strerrorname_np(errno) : "");
}
#define S(call) (errno = 0, show(#call, (call)))

int main(void) {
  // Left out, as a Linux without them.
  S(syscall(SYS_io_setup, 1, (void*)0));
  S(syscall(SYS_io_uring_setup, 1, (void*)0));
  S(syscall(SYS_perf_event_open, (void*)0, 0, -1, -1, 0));
  S(syscall(SYS_bpf, 0, (void*)0, 0));
  S(syscall(SYS_userfaultfd, 0));
  S(syscall(SYS_keyctl, 0, 0, 0, 0, 0));
  S(syscall(SYS_add_key, "user", "x", "y", 1, 0));
  S(syscall(SYS_fanotify_init, 0, 0));
  S(syscall(SYS_memfd_secret, 0));
  S(syscall(SYS_get_mempolicy, (void*)0, (void*)0, 0, (void*)0, 0));
  S(syscall(SYS_set_mempolicy, 0, (void*)0, 0));
  S(syscall(SYS_mbind, (void*)0, 0, 0, (void*)0, 0, 0));
  S(syscall(SYS_modify_ldt, 0, (void*)0, 0));
  S(syscall(SYS_set_thread_area, (void*)0));
  S(syscall(SYS_init_module, (void*)0, 0, ""));
  S(syscall(SYS_kexec_load, 0, 0, (void*)0, 0));
  S(syscall(SYS_iopl, 0));
  S(syscall(SYS_quotactl, 0, (void*)0, 0, (void*)0));
  S(syscall(SYS_uselib, "x"));
  S(syscall(SYS_lookup_dcookie, 0, (void*)0, 0));
  // Socket families elfuse has not reviewed for addresses in their options
  // and messages, as a kernel built without them (AF_XDP registers memory
  // by address; AF_RDS maps guest-named ranges; AF_KEY is the host's IPsec).
  S(socket(AF_XDP, SOCK_RAW, 0));
  S(socket(AF_RDS, SOCK_SEQPACKET, 0));
  S(socket(AF_KEY, SOCK_RAW, 2 /* PF_KEY_V2 */));
  int pair[2];
  S(socketpair(AF_XDP, SOCK_RAW, 0, pair));
  // Landlock disabled at boot.
  S(syscall(SYS_landlock_create_ruleset, (void*)0, 0, 1));
  S(syscall(SYS_landlock_add_rule, -1, 1, (void*)0, 0));
  S(syscall(SYS_landlock_restrict_self, -1, 0));
  // Refused whatever the caller's privileges (these run as root in CI).
  char host[256] = {0};
  gethostname(host, sizeof host - 1);
  S(syscall(SYS_sethostname, host, strlen(host)));
  struct timeval tv;
  struct timezone tz;
  gettimeofday(&tv, &tz);
  S(syscall(SYS_settimeofday, (void*)0, &tz));
  S(syscall(SYS_unshare, CLONE_NEWUTS));
  S(syscall(SYS_unshare, CLONE_NEWUSER));
  S(syscall(SYS_ptrace, 0 /* PTRACE_TRACEME */, 0, 0, 0));
  // The host's firewall, as a caller without CAP_NET_ADMIN (a short value:
  // harmless natively too, EINVAL).
  int udp = socket(AF_INET, SOCK_DGRAM, 0);
  char small[8] = {0};
  S(setsockopt(udp, SOL_IP, 64 /* IPT_SO_SET_REPLACE */, small, sizeof small));
  S(setsockopt(udp, SOL_IP, 128 /* EBT_SO_SET_ENTRIES */, small, sizeof small));
  int udp6 = socket(AF_INET6, SOCK_DGRAM, 0);
  S(setsockopt(udp6, SOL_IPV6, 64 /* IP6T_SO_SET_REPLACE */, small, sizeof small));
  S(setsockopt(udp6, SOL_IP, 96 /* ARPT_SO_SET_REPLACE */, small, sizeof small));
  return 0;
}
