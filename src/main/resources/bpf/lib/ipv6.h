// SPDX-License-Identifier: (GPL-2.0-only OR Apache-2.0)
/*
 * What is IPv6's own: 16-byte addresses, no header checksum (the transport checksum covers the
 * addresses through its pseudo-header), ICMPv6's port unreachable (type 1, code 4), translating
 * ICMPv6 errors back, a tuple for tracing, the FIB.
 */
#pragma once

#include "nat.h"

static __always_inline int addr6_eq(const union v6addr *a, const union v6addr *b)
{
	return a->w[0] == b->w[0] && a->w[1] == b->w[1] && a->w[2] == b->w[2] && a->w[3] == b->w[3];
}

static __always_inline int addr6_zero(const union v6addr *a)
{
	return !(a->w[0] | a->w[1] | a->w[2] | a->w[3]);
}

static __always_inline int to_service6(struct packet6 *p)
{
	struct config6 *cfg = config6();
	if (!cfg || addr6_zero(&cfg->service_mask))
		return 0;
	for (int i = 0; i < 4; i++)
		if ((p->tuple.daddr.w[i] & cfg->service_mask.w[i]) != cfg->service_net.w[i])
			return 0;
	return 1;
}

/* The transport checksum's offset: TCP's, UDP's, ICMPv6's. */
static __always_inline __u32 l4_csum6(struct packet6 *p)
{
	return p->l4 + (p->tuple.protocol == IPPROTO_TCP ? 16 :
			p->tuple.protocol == IPPROTO_UDP ? 6 : 2);
}

/* A 16-byte address at off replaced, the checksum at csum following it (pseudo: the address is
 * part of the pseudo-header the checksum covers, not of the bytes it sums). */
static __always_inline int addr6_rewrite(struct __sk_buff *skb, __u32 csum, __u32 off,
					 union v6addr from, union v6addr to, __u64 flags)
{
	if (addr6_eq(&from, &to))
		return 0;
	__s64 diff = bpf_csum_diff(from.w, 16, to.w, 16, 0);
	if (diff < 0 || bpf_l4_csum_replace(skb, csum, 0, diff, flags) ||
	    bpf_skb_store_bytes(skb, off, &to, 16, 0))
		return -1;
	return 0;
}

/* Rewrites the packet's source (dst_side 0) or destination address and port; only the transport
 * checksum changes. */
static __always_inline int nat_rewrite6(struct __sk_buff *skb, struct packet6 *p, int dst_side,
					union v6addr addr, __be16 port)
{
	union v6addr old_addr = dst_side ? p->tuple.daddr : p->tuple.saddr;
	__be16 old_port = dst_side ? p->tuple.dport : p->tuple.sport;
	__u32 csum = l4_csum6(p);
	__u64 mangled = p->tuple.protocol == IPPROTO_UDP ? BPF_F_MARK_MANGLED_0 : 0;
	if (addr6_rewrite(skb, csum, ETH_HLEN + (dst_side ? 24 : 8), old_addr, addr,
			  BPF_F_PSEUDO_HDR | mangled))
		return -1;
	if (port_rewrite(skb, csum, p->l4 + (dst_side ? 2 : 0), old_port, port, mangled))
		return -1;
	if (dst_side) {
		p->tuple.daddr = addr;
		p->tuple.dport = port;
	} else {
		p->tuple.saddr = addr;
		p->tuple.sport = port;
	}
	return 0;
}

struct icmp6_unreach_frame {
	struct ethhdr eth;
	struct ipv6hdr ip;
	__u8 type;
	__u8 code;
	__sum16 checksum;
	__u32 unused;
	__u8 quoted[48]; /* the offending packet's IPv6 header and first 8 bytes */
} __attribute__((packed));

/* ICMPv6's checksum covers a pseudo-header: both addresses, the message's length, its protocol. */
struct icmp6_pseudo {
	union v6addr saddr;
	union v6addr daddr;
	__be32 len;
	__u8 zero[3];
	__u8 nexthdr;
};

#define ICMP6_UNREACH_LEN (sizeof(struct icmp6_unreach_frame) - ETH_HLEN - sizeof(struct ipv6hdr))

/* kube-proxy's REJECT in IPv6: ICMPv6 destination unreachable, port unreachable (code 4), from
 * the frontend, back where the packet came from. */
static __always_inline int reject6(struct __sk_buff *skb, struct packet6 *p, enum reject_to to)
{
	__u8 direction;
	__u8 program = reject_program(to, &direction);
	emit6(skb, p, VERDICT_REJECTED, REJECT_NO_BACKEND, program, direction, 0);
	/* Built off the stack: with the pseudo-header it is too big for it. */
	struct icmp6_unreach_frame *f = scratch(SCRATCH_FRAME, sizeof(*f) + sizeof(struct icmp6_pseudo));
	if (!f)
		return drop6(skb, p, DROP_INVALID);
	struct icmp6_pseudo *ph = (void *)(f + 1);
	if (bpf_skb_load_bytes(skb, 0, &f->eth, sizeof(f->eth)) ||
	    bpf_skb_load_bytes(skb, ETH_HLEN, f->quoted, sizeof(f->quoted)))
		return drop6(skb, p, DROP_INVALID);
	eth_swap(&f->eth);
	f->ip.version = 6;
	f->ip.payload_len = bpf_htons(ICMP6_UNREACH_LEN);
	f->ip.nexthdr = IPPROTO_ICMPV6;
	f->ip.hop_limit = 64;
	__builtin_memcpy(&f->ip.saddr, &p->tuple.daddr, 16);
	__builtin_memcpy(&f->ip.daddr, &p->tuple.saddr, 16);
	f->type = ICMPV6_DEST_UNREACH;
	f->code = ICMPV6_PORT_UNREACH;
	ph->saddr = p->tuple.daddr;
	ph->daddr = p->tuple.saddr;
	ph->len = bpf_htonl(ICMP6_UNREACH_LEN);
	ph->nexthdr = IPPROTO_ICMPV6;
	__s64 sum = bpf_csum_diff(0, 0, (void *)ph, sizeof(*ph), 0);
	sum = bpf_csum_diff(0, 0, (void *)&f->type, ICMP6_UNREACH_LEN, sum);
	f->checksum = csum_fold(sum);
	if (bpf_skb_change_tail(skb, sizeof(*f), 0) ||
	    bpf_skb_store_bytes(skb, 0, f, sizeof(*f), BPF_F_INVALIDATE_HASH))
		return drop6(skb, p, DROP_INVALID);
	return reject_send(skb, to);
}

/* An ICMPv6 error about a translated connection (port unreachable, packet too big, time
 * exceeded), translated back as its replies are, the quoted packet included. 1: translated, 0:
 * not such an error, -1: failed. */
static __always_inline int lb_icmp_error6(struct __sk_buff *skb, struct packet6 *p)
{
	__u32 icmp = p->l4;
	__u8 type;
	if (bpf_skb_load_bytes(skb, icmp, &type, 1) ||
	    (type != ICMPV6_DEST_UNREACH && type != ICMPV6_PKT_TOOBIG && type != ICMPV6_TIME_EXCEED))
		return 0;
	__u32 inner = icmp + 8;
	struct ipv6hdr ip;
	__be16 ports[2];
	if (bpf_skb_load_bytes(skb, inner, &ip, sizeof(ip)) ||
	    (ip.nexthdr != IPPROTO_TCP && ip.nexthdr != IPPROTO_UDP) ||
	    bpf_skb_load_bytes(skb, inner + sizeof(ip), ports, sizeof(ports)))
		return 0;
	struct ct6_key k = {.sport = ports[0], .dport = ports[1], .protocol = ip.nexthdr};
	__builtin_memcpy(&k.saddr, &ip.saddr, 16);
	__builtin_memcpy(&k.daddr, &ip.daddr, 16);
	struct ct6_entry *e = bpf_map_lookup_elem(&tw_ct6, &k);
	if (!e || !(e->flags & CT_REVNAT))
		return 0;
	union v6addr fe = e->nat_addr, client = e->orig_addr;
	__be16 fe_port = e->nat_port, client_port = e->orig_port;
	__u32 csum = icmp + 2;
	/* The quoted request goes back to what the client sent; ICMPv6's checksum covers it. */
	if (addr6_rewrite(skb, csum, inner + 8, k.saddr, client, 0) ||
	    addr6_rewrite(skb, csum, inner + 24, k.daddr, fe, 0) ||
	    icmp_rewrite(skb, csum, inner + 40, ports[0], client_port, 2) ||
	    icmp_rewrite(skb, csum, inner + 42, ports[1], fe_port, 2))
		return -1;
	/* From the frontend when the backend itself sent it; to the client in any case. The outer
	 * addresses are in ICMPv6's pseudo-header. */
	if (addr6_eq(&p->tuple.saddr, &k.daddr)) {
		if (addr6_rewrite(skb, csum, ETH_HLEN + 8, p->tuple.saddr, fe, BPF_F_PSEUDO_HDR))
			return -1;
		p->tuple.saddr = fe;
	}
	if (addr6_rewrite(skb, csum, ETH_HLEN + 24, p->tuple.daddr, client, BPF_F_PSEUDO_HDR))
		return -1;
	p->tuple.daddr = client;
	return 1;
}

/* The packet's addresses and ports, read whatever a program did to its header. 0: not IPv6. */
static __always_inline int trace_tuple6(struct __sk_buff *skb, struct trace_tuple *k,
					struct ct6_key *key)
{
	struct ipv6hdr ip;
	__builtin_memset(k, 0, sizeof(*k));
	__builtin_memset(key, 0, sizeof(*key));
	if (skb->protocol != bpf_htons(ETH_P_IPV6) ||
	    bpf_skb_load_bytes(skb, ETH_HLEN, &ip, sizeof(ip)))
		return 0;
	__builtin_memcpy(&key->saddr, &ip.saddr, 16);
	__builtin_memcpy(&key->daddr, &ip.daddr, 16);
	key->protocol = ip.nexthdr;
	if (ip.nexthdr == IPPROTO_TCP || ip.nexthdr == IPPROTO_UDP) {
		__be16 ports[2];
		if (bpf_skb_load_bytes(skb, ETH_HLEN + sizeof(ip), ports, sizeof(ports)) == 0) {
			key->sport = ports[0];
			key->dport = ports[1];
		}
	}
	k->saddr = key->saddr;
	k->daddr = key->daddr;
	k->sport = key->sport;
	k->dport = key->dport;
	k->protocol = key->protocol;
	k->family = 6;
	return 1;
}

static __always_inline __u32 trace_l4_6(struct __sk_buff *skb)
{
	return ETH_HLEN + sizeof(struct ipv6hdr);
}

static __always_inline void fib_init6(struct bpf_fib_lookup *fib, struct packet6 *p)
{
	fib->family = AF_INET6;
	__builtin_memcpy(fib->ipv6_src, &p->tuple.saddr, 16);
	__builtin_memcpy(fib->ipv6_dst, &p->tuple.daddr, 16);
}

static __always_inline void neigh_of6(struct bpf_redir_neigh *nh, struct bpf_fib_lookup *fib)
{
	nh->nh_family = AF_INET6;
	__builtin_memcpy(nh->ipv6_nh, fib->ipv6_dst, 16);
}

/* The node's IPv6 address, the source of masqueraded Service traffic; 0: none. */
static __always_inline int snat_address6(union v6addr *out)
{
	struct config6 *cfg = config6();
	if (!cfg || addr6_zero(&cfg->node_ip))
		return 0;
	*out = cfg->node_ip;
	return 1;
}
