// Network interface queries through socket ioctls (if_nametoindex,
// if_indextoname, SIOCGIF*, SIOCGIFCONF), the vsock local CID ioctl, and
// the errors sethostname/setdomainname give before they would act.
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "common.h"

int main(void) {
  int s = socket(AF_INET, SOCK_DGRAM, 0);
  unsigned lo = if_nametoindex("lo");
  printf("if_nametoindex(lo) = %u\n", lo);
  printf("if_nametoindex(nope0) = %u %s\n", if_nametoindex("nope0"), errname(errno));
  char name[IF_NAMESIZE] = "";
  printf("if_indextoname = %s\n", if_indextoname(lo, name) ? name : errname(errno));
  printf("if_indextoname(99999) = %s\n", if_indextoname(99999, name) ? name : errname(errno));

  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  strcpy(ifr.ifr_name, "lo");
  OK(ioctl(s, SIOCGIFFLAGS, &ifr));
  printf("lo flags: up %d loopback %d\n", !!(ifr.ifr_flags & IFF_UP),
         !!(ifr.ifr_flags & IFF_LOOPBACK));
  OK(ioctl(s, SIOCGIFMTU, &ifr));
  printf("lo mtu %d\n", ifr.ifr_mtu);
  if (ioctl(s, SIOCGIFADDR, &ifr) == 0)
    printf("lo addr %s\n", inet_ntoa(((struct sockaddr_in*)&ifr.ifr_addr)->sin_addr));
  OK(ioctl(s, SIOCGIFNETMASK, &ifr));
  OK(ioctl(s, SIOCGIFHWADDR, &ifr));
  printf("lo hw family %d\n", ifr.ifr_hwaddr.sa_family);
  OK(ioctl(s, SIOCGIFTXQLEN, &ifr));
  ifr.ifr_ifindex = lo;
  OK(ioctl(s, SIOCGIFNAME, &ifr));
  printf("SIOCGIFNAME: %s\n", ifr.ifr_name);
  strcpy(ifr.ifr_name, "nope0");
  OK(ioctl(s, SIOCGIFINDEX, &ifr));
  OK(ioctl(s, SIOCGIFINDEX, (void*)8));
  OK(ioctl(99, SIOCGIFINDEX, (void*)8));
  OK(ioctl(0, SIOCGIFINDEX, &ifr));

  // SIOCGIFCONF: the length needed, then the list.
  struct ifconf ifc = {0};
  ifc.ifc_buf = NULL;
  OK(ioctl(s, SIOCGIFCONF, &ifc));
  int need = ifc.ifc_len;
  printf("SIOCGIFCONF needs a multiple of ifreq: %s\n",
         need % (int)sizeof(struct ifreq) == 0 ? "yes" : "no");
  struct ifreq list[64];
  ifc.ifc_len = sizeof list;
  ifc.ifc_req = list;
  OK(ioctl(s, SIOCGIFCONF, &ifc));
  printf("SIOCGIFCONF gave what it needed: %s\n", ifc.ifc_len == need ? "yes" : "no");
  for (int i = 0; i < ifc.ifc_len / (int)sizeof(struct ifreq); i++)
    if (strcmp(list[i].ifr_name, "lo") == 0)
      printf("SIOCGIFCONF: lo %s\n",
             inet_ntoa(((struct sockaddr_in*)&list[i].ifr_addr)->sin_addr));
  ifc.ifc_len = sizeof(struct ifreq) - 1;
  OK(ioctl(s, SIOCGIFCONF, &ifc));
  printf("too small: len %d\n", ifc.ifc_len);
  ifc.ifc_len = sizeof list;
  ifc.ifc_buf = (void*)8;
  OK(ioctl(s, SIOCGIFCONF, &ifc));
  OK(ioctl(s, SIOCGIFCONF, (void*)8));

  int atmark = -1;
  OK(ioctl(s, SIOCATMARK, &atmark));
  struct timeval tv;
  OK(ioctl(s, 0x8906 /* SIOCGSTAMP */, &tv));

  int vs = open("/dev/vsock", O_RDONLY);
  if (vs >= 0) {
    uint32_t cid = 0;
    long r = ioctl(vs, 0x7b9, &cid);
    printf("vsock local cid: %s\n", r == 0 ? "ok" : errname(errno));
    OK(ioctl(vs, 0x7b9, (void*)8));
  } else {
    printf("/dev/vsock: %s\n", errname(errno));
  }

  // elfuse never changes the host's names (EPERM even for root,
  // docs/syscalls.md): only the errors Linux gives before it would act.
  struct utsname u;
  uname(&u);
  OK(syscall(SYS_sethostname, u.nodename, -1));
  OK(syscall(SYS_sethostname, u.nodename, 65));
  OK(syscall(SYS_sethostname, (void*)8, 4));
  OK(syscall(SYS_setdomainname, u.domainname, 65));
  OK(syscall(SYS_setdomainname, (void*)8, 4));
  struct utsname after;
  uname(&after);
  CHECK(strcmp(u.nodename, after.nodename) == 0);
  CHECK(strcmp(u.domainname, after.domainname) == 0);
  return 0;
}
