// SPDX-License-Identifier: (GPL-2.0-only OR Apache-2.0)
/*
 * Address translation's shared parts: checksum folding, rewriting bytes inside an ICMP message,
 * and sending back the ICMP refusal of a Service without backends. What differs between IPv4 and
 * IPv6 (headers, checksums, ICMP's numbers) is in ipv4.h and ipv6.h.
 */
#pragma once

#include "events.h"
#include "config.h"

static __always_inline __sum16 csum_fold(__s64 sum)
{
	__u32 s = (__u32)sum;
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (__sum16)~s;
}

/* Rewrites 4 (or 2) bytes inside an ICMP message, keeping its checksum (ICMP's own part). */
static __always_inline int icmp_rewrite(struct __sk_buff *skb, __u32 csum, __u32 off, __u32 from,
					__u32 to, __u32 size)
{
	if (from == to)
		return 0;
	if (bpf_l4_csum_replace(skb, csum, from, to, size) ||
	    bpf_skb_store_bytes(skb, off, &to, size, 0))
		return -1;
	return 0;
}

/* A transport port at off replaced, the transport checksum at csum following it. */
static __always_inline int port_rewrite(struct __sk_buff *skb, __u32 csum, __u32 off,
					__be16 from, __be16 to, __u64 mangled)
{
	if (from == to)
		return 0;
	if (bpf_l4_csum_replace(skb, csum, from, to, mangled | 2) ||
	    bpf_skb_store_bytes(skb, off, &to, 2, 0))
		return -1;
	return 0;
}

enum reject_to {
	REJECT_TO_PEER,   /* a pod's host veth: into the pod */
	REJECT_BACK_OUT,  /* eth0 ingress: out again, to the sender */
	REJECT_TO_STACK,  /* eth0 egress, the node's own packet: into the node */
};

static __always_inline __u8 reject_program(enum reject_to to, __u8 *direction)
{
	*direction = to == REJECT_BACK_OUT ? DIR_INGRESS : DIR_EGRESS;
	return to == REJECT_TO_PEER ? PROG_FROM_CONTAINER :
	       to == REJECT_BACK_OUT ? PROG_FROM_NETDEV : PROG_TO_NETDEV;
}

/* The refusal, written over the packet, goes back where the packet came from. */
static __always_inline int reject_send(struct __sk_buff *skb, enum reject_to to)
{
	count(REJECT_NO_BACKEND);
	skb->cb[CB_KIND] = TK_REJECT;
	skb->cb[CB_REASON] = REJECT_NO_BACKEND;
	skb->cb[CB_TARGET] = skb->ifindex;
	if (to == REJECT_TO_PEER)
		return bpf_redirect_peer(skb->ifindex, 0);
	if (to == REJECT_TO_STACK)
		return bpf_redirect(skb->ifindex, BPF_F_INGRESS);
	skb->mark |= MARK_FORWARDED;
	return bpf_redirect(skb->ifindex, 0);
}


/* The frame's Ethernet header, back to its sender. */
static __always_inline void eth_swap(struct ethhdr *eth)
{
	__u8 mac[6];
	__builtin_memcpy(mac, eth->h_dest, 6);
	__builtin_memcpy(eth->h_dest, eth->h_source, 6);
	__builtin_memcpy(eth->h_source, mac, 6);
}

enum lb_verdict {
	LB_NONE = 0,   /* not for a Service */
	LB_OK = 1,     /* translated */
	LB_REJECT = 2, /* no backend anywhere */
	LB_DROP = 3,   /* no backend in scope, or not allowed to the frontend */
	LB_RANGE = 4,  /* outside the load balancer's source ranges */
};
