// SPDX-License-Identifier: (GPL-2.0-only OR Apache-2.0)
/*
 * Kernel and libbpf headers, and the constants every part shares: the IPv6 address, identities,
 * endpoint flags, directions, conntrack flags, configuration bits, the skb mark, drop reasons.
 */
#pragma once

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/in.h>
#include <linux/in6.h>
#include <linux/icmpv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define AF_INET 2
#define AF_INET6 10
#define ICMP_ECHOREPLY 0
#define ICMP_ECHO 8
#define PACKET_HOST 0 /* linux/if_packet.h */

/* linux/icmp.h pulls in the C library's socket headers, which a BPF target lacks. */
struct icmp_echo {
	__u8 type;
	__u8 code;
	__sum16 checksum;
	__be16 id;
	__be16 sequence;
};

/* An IPv6 address, as packets and maps hold it (network order). 4-byte aligned, so that it
 * follows an LPM key's 4-byte prefix length directly, as the trie requires. */
union v6addr {
	__u8 b[16];
	__be32 w[4];
};

/* Reserved identities, as Cilium numbers them; pods get 256 and up, CIDRs 1<<24 and up. */
#define ID_HOST 1
#define ID_WORLD 2
#define ID_REMOTE_NODE 6
#define ID_FIRST_CLUSTER 256

#define EP_INGRESS_ISOLATED 1
#define EP_EGRESS_ISOLATED 2

#define DIR_INGRESS 0
#define DIR_EGRESS 1

#define CT_STACK 1  /* the connection goes through the kernel's stack (its routing) */
#define CT_SVC 2    /* keyed by a request to a frontend: the translation its packets get */
#define CT_REVNAT 4 /* keyed by a translated request: its replies get the frontend back */
#define CT_CLOSING 8 /* a FIN or RST was seen: the agent removes the entry once it goes quiet */

#define CFG_BGP 1      /* remote pods are reached by routing, not VXLAN */
#define CFG_NO_FLOWS 2 /* report no flow events (observation off) */

/* skb->mark bits: from_container has judged and sent this packet on (encapsulated, or redirected
 * to the uplink); the egress hook it meets next on this node lets it be. */
#define MARK_FORWARDED 0x00e00000

enum drop_reason {
	REASON_FORWARDED = 0,
	DROP_POLICY = 1,
	DROP_SPOOFED = 2,
	DROP_NO_ROUTE = 3,
	DROP_INVALID = 4,
	DROP_NO_SERVICE = 5,   /* a service address without that port, or no local backend (Local) */
	REJECT_NO_BACKEND = 6, /* answered with ICMP port unreachable */
	DROP_SOURCE_RANGE = 7, /* outside a load balancer's source ranges */
	EVENTS_LOST = 8,       /* not a drop: flow events the ring buffer had no room for */
	REASON_MAX = 16,
};
