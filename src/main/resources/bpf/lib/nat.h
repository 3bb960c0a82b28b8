// SPDX-License-Identifier: (GPL-2.0-only OR Apache-2.0)
/*
 * Address translation: rewriting headers and checksums, and the ICMP refusal of a Service
 * without backends.
 */
#pragma once

#include "deliver.h"

static __always_inline int to_service(struct packet *p)
{
	struct config *cfg = config();
	return cfg && cfg->service_mask && (p->tuple.daddr & cfg->service_mask) == cfg->service_net;
}

/* Rewrites the packet's source (dst_side 0) or destination address and port, checksums included
 * (a pod's or the node's own packet carries a partial checksum: the pseudo-header's part of it is
 * what changes). */
static __always_inline int nat_rewrite(struct __sk_buff *skb, struct packet *p, int dst_side,
				       __be32 addr, __be16 port)
{
	__be32 old_addr = dst_side ? p->tuple.daddr : p->tuple.saddr;
	__be16 old_port = dst_side ? p->tuple.dport : p->tuple.sport;
	__u32 l4 = ETH_HLEN + p->ihl * 4;
	__u32 csum = l4 + (p->tuple.protocol == IPPROTO_TCP ? 16 : 6);
	__u64 mangled = p->tuple.protocol == IPPROTO_UDP ? BPF_F_MARK_MANGLED_0 : 0;
	if (old_addr != addr) {
		if (bpf_l4_csum_replace(skb, csum, old_addr, addr, BPF_F_PSEUDO_HDR | mangled | 4) ||
		    bpf_l3_csum_replace(skb, ETH_HLEN + 10, old_addr, addr, 4) ||
		    bpf_skb_store_bytes(skb, ETH_HLEN + (dst_side ? 16 : 12), &addr, 4, 0))
			return -1;
	}
	if (old_port != port) {
		if (bpf_l4_csum_replace(skb, csum, old_port, port, mangled | 2) ||
		    bpf_skb_store_bytes(skb, l4 + (dst_side ? 2 : 0), &port, 2, 0))
			return -1;
	}
	if (dst_side) {
		p->tuple.daddr = addr;
		p->tuple.dport = port;
	} else {
		p->tuple.saddr = addr;
		p->tuple.sport = port;
	}
	return 0;
}

static __always_inline __sum16 csum_fold(__s64 sum)
{
	__u32 s = (__u32)sum;
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (__sum16)~s;
}

struct icmp_unreach_frame {
	struct ethhdr eth;
	struct iphdr ip;
	__u8 type;
	__u8 code;
	__sum16 checksum;
	__u32 unused;
	__u8 quoted[28]; /* the offending packet's IP header and first 8 bytes */
} __attribute__((packed));

enum reject_to {
	REJECT_TO_PEER,   /* a pod's host veth: into the pod */
	REJECT_BACK_OUT,  /* eth0 ingress: out again, to the sender */
	REJECT_TO_STACK,  /* eth0 egress, the node's own packet: into the node */
};

/* kube-proxy's REJECT for a Service without endpoints: the packet becomes an ICMP port
 * unreachable from the frontend, sent back where it came from (a TCP client's connect fails at
 * once with "connection refused"). */
static __always_inline int reject(struct __sk_buff *skb, struct packet *p, enum reject_to to)
{
	if (to == REJECT_TO_PEER)
		emit(skb, p, VERDICT_REJECTED, REJECT_NO_BACKEND, PROG_FROM_CONTAINER, DIR_EGRESS, 0);
	else if (to == REJECT_BACK_OUT)
		emit(skb, p, VERDICT_REJECTED, REJECT_NO_BACKEND, PROG_FROM_NETDEV, DIR_INGRESS, 0);
	else
		emit(skb, p, VERDICT_REJECTED, REJECT_NO_BACKEND, PROG_TO_NETDEV, DIR_EGRESS, 0);
	struct icmp_unreach_frame f;
	__builtin_memset(&f, 0, sizeof(f));
	if (p->ihl != 5 || bpf_skb_load_bytes(skb, 0, &f.eth, sizeof(f.eth)) ||
	    bpf_skb_load_bytes(skb, ETH_HLEN, f.quoted, sizeof(f.quoted)))
		return drop(skb, p, DROP_INVALID);
	__u8 mac[6];
	__builtin_memcpy(mac, f.eth.h_dest, 6);
	__builtin_memcpy(f.eth.h_dest, f.eth.h_source, 6);
	__builtin_memcpy(f.eth.h_source, mac, 6);
	f.ip.version = 4;
	f.ip.ihl = 5;
	f.ip.ttl = 64;
	f.ip.protocol = IPPROTO_ICMP;
	f.ip.tot_len = bpf_htons(sizeof(f) - ETH_HLEN);
	f.ip.saddr = p->tuple.daddr;
	f.ip.daddr = p->tuple.saddr;
	f.ip.check = csum_fold(bpf_csum_diff(0, 0, (void *)&f + ETH_HLEN, sizeof(f.ip), 0));
	f.type = 3; /* destination unreachable */
	f.code = 3; /* port unreachable */
	f.checksum = csum_fold(bpf_csum_diff(0, 0, (void *)&f + ETH_HLEN + sizeof(f.ip), 36, 0));
	if (bpf_skb_change_tail(skb, sizeof(f), 0) ||
	    bpf_skb_store_bytes(skb, 0, &f, sizeof(f), BPF_F_INVALIDATE_HASH))
		return drop(skb, p, DROP_INVALID);
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

/* Rewrites 4 (or 2) bytes inside an ICMP message, keeping its checksum (no pseudo-header). */
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

/* An address in the outer IP header: the header's checksum follows. */
static __always_inline int ip_rewrite(struct __sk_buff *skb, __u32 off, __be32 from, __be32 to)
{
	if (from == to)
		return 0;
	if (bpf_l3_csum_replace(skb, ETH_HLEN + 10, from, to, 4) ||
	    bpf_skb_store_bytes(skb, off, &to, 4, 0))
		return -1;
	return 0;
}
