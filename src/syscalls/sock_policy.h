// What elfuse lets reach the host's socket layer. The host kernel runs every
// protocol in elfuse's own process, so a value the guest hands over that the
// kernel reads as a *user address* would be read or written in elfuse's
// memory, not the guest's. Two rules keep that from happening:
//
// - Families: only those whose option and message formats were reviewed for
//   embedded addresses may be created (socket_family_reviewed). AF_XDP
//   registers "user memory" by address (XDP_UMEM_REG), AF_RDS maps and
//   copies guest-named ranges (RDS_GET_MR, RDMA cmsgs), AF_KEY changes the
//   host's IPsec state: those and every family not reviewed are
//   EAFNOSUPPORT, as a kernel built without them answers.
// - Options (sockopt_route): the few setsockopt values of reviewed families
//   that hold an address or a descriptor are rewritten to elfuse's copy
//   (a classic BPF program: SO_ATTACH_FILTER, SO_ATTACH_REUSEPORT_CBPF,
//   PACKET_FANOUT_DATA) or checked as guest descriptors (SO_ATTACH_BPF,
//   SO_ATTACH_REUSEPORT_EBPF, PACKET_FANOUT_DATA's eBPF form); the host
//   firewall's options (iptables, ip6tables, arptables, ebtables, IPVS: some
//   hold addresses, all change the host) are refused with EPERM, as for a
//   caller without CAP_NET_ADMIN. getsockopt never hands the host the
//   guest's value (elfuse passes its own zeroed buffer), so it needs no
//   rule.
#pragma once

namespace elfuse {

bool socket_family_reviewed(int family);

enum class SockoptRoute {
  kHost,           // the value is plain data: the host gets a copy
  kFilterProgram,  // struct sock_fprog: the program is copied, the address replaced
  kBpfFd,          // an int descriptor of a BPF program: a guest fd
  kFilterOrBpfFd,  // PACKET_FANOUT_DATA: a sock_fprog (16 bytes) or an fd (4)
  kRefused,        // the host's firewall: EPERM
};

// setsockopt(level, optname) of a socket of `family` (the host's SO_DOMAIN).
SockoptRoute sockopt_route(int family, int level, int optname);

}  // namespace elfuse
