// syscalls/sock_policy.h: which families reach the host, and which socket
// option values elfuse rewrites or refuses before the host reads them.
#include <gtest/gtest.h>
#include <linux/if_packet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "syscalls/sock_policy.h"

namespace elfuse {
namespace {

TEST(SockPolicy, ReviewedFamilies) {
  for (int f : {AF_UNIX, AF_INET, AF_INET6, AF_NETLINK, AF_PACKET, AF_ALG, AF_VSOCK, AF_CAN})
    EXPECT_TRUE(socket_family_reviewed(f)) << f;
  // Address-taking or host-changing families, and ones nobody reviewed.
  for (int f : {AF_XDP, AF_RDS, AF_KEY, AF_BLUETOOTH, AF_TIPC, AF_UNSPEC, -1, 46, 1000})
    EXPECT_FALSE(socket_family_reviewed(f)) << f;
}

TEST(SockPolicy, FilterProgramsAreCopied) {
  for (int f : {AF_INET, AF_UNIX, AF_PACKET}) {
    EXPECT_EQ(sockopt_route(f, SOL_SOCKET, SO_ATTACH_FILTER), SockoptRoute::kFilterProgram);
    EXPECT_EQ(sockopt_route(f, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF), SockoptRoute::kFilterProgram);
    EXPECT_EQ(sockopt_route(f, SOL_SOCKET, SO_ATTACH_BPF), SockoptRoute::kBpfFd);
    EXPECT_EQ(sockopt_route(f, SOL_SOCKET, SO_ATTACH_REUSEPORT_EBPF), SockoptRoute::kBpfFd);
  }
  EXPECT_EQ(sockopt_route(AF_PACKET, SOL_PACKET, PACKET_FANOUT_DATA), SockoptRoute::kFilterOrBpfFd);
  // Level SOL_PACKET means nothing to other families: the host refuses it.
  EXPECT_EQ(sockopt_route(AF_INET, SOL_PACKET, PACKET_FANOUT_DATA), SockoptRoute::kHost);
}

TEST(SockPolicy, HostFirewallIsRefused) {
  for (int f : {AF_INET, AF_INET6}) {
    for (int opt : {64, 65, 96, 97, 128, 129, 1152, 1163})
      EXPECT_EQ(sockopt_route(f, SOL_IP, opt), SockoptRoute::kRefused) << f << " " << opt;
    // Plain IP options, and the neighbours of the ranges, are the host's.
    for (int opt : {IP_TOS, IP_TTL, IP_MULTICAST_IF, 63, 66, 98, 130, 1151, 1164})
      EXPECT_EQ(sockopt_route(f, SOL_IP, opt), SockoptRoute::kHost) << f << " " << opt;
    EXPECT_EQ(sockopt_route(f, SOL_IPV6, IPV6_V6ONLY), SockoptRoute::kHost);
  }
  EXPECT_EQ(sockopt_route(AF_INET6, SOL_IPV6, 64), SockoptRoute::kRefused);
  EXPECT_EQ(sockopt_route(AF_INET6, SOL_IPV6, 65), SockoptRoute::kRefused);
  // An AF_INET socket answers SOL_IPV6 with ENOPROTOOPT before netfilter.
  EXPECT_EQ(sockopt_route(AF_INET, SOL_IPV6, 64), SockoptRoute::kHost);
  // Other families never reach netfilter with these numbers.
  EXPECT_EQ(sockopt_route(AF_UNIX, SOL_IP, 64), SockoptRoute::kHost);
  EXPECT_EQ(sockopt_route(AF_PACKET, SOL_IP, 64), SockoptRoute::kHost);
  EXPECT_EQ(sockopt_route(AF_INET, SOL_SOCKET, SO_RCVBUF), SockoptRoute::kHost);
}

}  // namespace
}  // namespace elfuse
