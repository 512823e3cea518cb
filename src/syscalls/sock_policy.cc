#include "syscalls/sock_policy.h"

#include <linux/if_packet.h>
#include <netinet/in.h>
#include <sys/socket.h>

namespace elfuse {

bool socket_family_reviewed(int family) {
  switch (family) {
    case AF_UNIX:
    case AF_INET:
    case AF_INET6:
    case AF_NETLINK:
    case AF_PACKET:
    case AF_ALG:
    case AF_VSOCK:
    case AF_CAN:
      return true;
    default:
      return false;
  }
}

namespace {

// The netfilter control ranges (include/uapi/linux/netfilter_ipv4/ip_tables.h,
// arp_tables.h, netfilter_bridge/ebtables.h, ip_vs.h, netfilter_ipv6/
// ip6_tables.h): setsockopt optnames that reach nf_setsockopt.
constexpr int kIptBase = 64;     // IPT_SO_SET_REPLACE, IPT_SO_SET_ADD_COUNTERS
constexpr int kArptBase = 96;    // ARPT_SO_SET_REPLACE, ARPT_SO_SET_ADD_COUNTERS
constexpr int kEbtBase = 128;    // EBT_SO_SET_ENTRIES, EBT_SO_SET_COUNTERS
constexpr int kIpvsBase = 1152;  // IP_VS_SO_SET_NONE .. IP_VS_SO_SET_ZERO
constexpr int kIpvsLast = 1163;

// Which options reach nf_setsockopt: SOL_IP ones from AF_INET and AF_INET6
// sockets (ipv6_setsockopt hands SOL_IP to ip_setsockopt), SOL_IPV6 ones
// from AF_INET6 sockets only (an AF_INET socket answers ENOPROTOOPT).
bool host_firewall(int family, int level, int optname) {
  if (level == SOL_IP) {
    return (optname >= kIptBase && optname <= kIptBase + 1) ||
           (optname >= kArptBase && optname <= kArptBase + 1) ||
           (optname >= kEbtBase && optname <= kEbtBase + 1) ||
           (optname >= kIpvsBase && optname <= kIpvsLast);
  }
  if (level == SOL_IPV6 && family == AF_INET6)
    return optname >= kIptBase && optname <= kIptBase + 1;
  return false;
}

}  // namespace

SockoptRoute sockopt_route(int family, int level, int optname) {
  if (level == SOL_SOCKET) {
    switch (optname) {
      case SO_ATTACH_FILTER:
      case SO_ATTACH_REUSEPORT_CBPF:
        return SockoptRoute::kFilterProgram;
      case SO_ATTACH_BPF:
      case SO_ATTACH_REUSEPORT_EBPF:
        return SockoptRoute::kBpfFd;
      default:
        return SockoptRoute::kHost;
    }
  }
  if (family == AF_PACKET && level == SOL_PACKET && optname == PACKET_FANOUT_DATA)
    return SockoptRoute::kFilterOrBpfFd;
  if ((family == AF_INET || family == AF_INET6) && host_firewall(family, level, optname))
    return SockoptRoute::kRefused;
  return SockoptRoute::kHost;
}

}  // namespace elfuse
