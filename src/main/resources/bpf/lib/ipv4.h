// SPDX-License-Identifier: (GPL-2.0-only OR Apache-2.0)
/*
 * What is IPv4's own: the service network test, rewriting addresses and ports with the header
 * checksum, ICMP's port unreachable, translating ICMP errors back, a tuple for tracing, the FIB.
 */
#pragma once

#include "nat.h"

static __always_inline int to_service4(struct packet *p)
{
	struct config *cfg = config();
	return cfg && cfg->service_mask && (p->tuple.daddr & cfg->service_mask) == cfg->service_net;
}

/* Rewrites the packet's source (dst_side 0) or destination address and port, checksums included
 * (a pod's or the node's own packet carries a partial checksum: the pseudo-header's part of it is
 * what changes). */
static __always_inline int nat_rewrite4(struct __sk_buff *skb, struct packet *p, int dst_side,
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
	if (port_rewrite(skb, csum, l4 + (dst_side ? 2 : 0), old_port, port, mangled))
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

struct icmp_unreach_frame {
	struct ethhdr eth;
	struct iphdr ip;
	__u8 type;
	__u8 code;
	__sum16 checksum;
	__u32 unused;
	__u8 quoted[28]; /* the offending packet's IP header and first 8 bytes */
} __attribute__((packed));

/* kube-proxy's REJECT for a Service without endpoints: the packet becomes an ICMP port
 * unreachable from the frontend, sent back where it came from (a TCP client's connect fails at
 * once with "connection refused"). */
static __always_inline int reject4(struct __sk_buff *skb, struct packet *p, enum reject_to to)
{
	__u8 direction;
	__u8 program = reject_program(to, &direction);
	emit4(skb, p, VERDICT_REJECTED, REJECT_NO_BACKEND, program, direction, 0);
	struct icmp_unreach_frame f;
	__builtin_memset(&f, 0, sizeof(f));
	if (p->ihl != 5 || bpf_skb_load_bytes(skb, 0, &f.eth, sizeof(f.eth)) ||
	    bpf_skb_load_bytes(skb, ETH_HLEN, f.quoted, sizeof(f.quoted)))
		return drop4(skb, p, DROP_INVALID);
	eth_swap(&f.eth);
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
		return drop4(skb, p, DROP_INVALID);
	return reject_send(skb, to);
}

/* An address in the outer IP header: the header's checksum follows. */
static __always_inline int ip_rewrite4(struct __sk_buff *skb, __u32 off, __be32 from, __be32 to)
{
	if (from == to)
		return 0;
	if (bpf_l3_csum_replace(skb, ETH_HLEN + 10, from, to, 4) ||
	    bpf_skb_store_bytes(skb, off, &to, 4, 0))
		return -1;
	return 0;
}

/* An ICMP error about a translated connection (the backend's port unreachable, fragmentation
 * needed on the way) is translated as the connection's replies are, the packet it quotes
 * included, so that the client's socket recognises it: what the kernel's conntrack does for the
 * RELATED packets of a NATed connection. 1: translated, 0: not such an error, -1: failed. */
static __always_inline int lb_icmp_error4(struct __sk_buff *skb, struct packet *p)
{
	__u32 icmp = ETH_HLEN + p->ihl * 4;
	__u8 type;
	if (bpf_skb_load_bytes(skb, icmp, &type, 1) || (type != 3 && type != 11))
		return 0;
	__u32 inner = icmp + 8;
	struct iphdr ip;
	__be16 ports[2];
	if (bpf_skb_load_bytes(skb, inner, &ip, sizeof(ip)) || ip.ihl != 5 ||
	    (ip.protocol != IPPROTO_TCP && ip.protocol != IPPROTO_UDP) ||
	    bpf_skb_load_bytes(skb, inner + sizeof(ip), ports, sizeof(ports)))
		return 0;
	struct ct_key k = {.saddr = ip.saddr, .daddr = ip.daddr, .sport = ports[0],
			   .dport = ports[1], .protocol = ip.protocol};
	struct ct_entry *e = bpf_map_lookup_elem(&tw_ct, &k);
	if (!e || !(e->flags & CT_REVNAT))
		return 0;
	__be32 fe = e->nat_addr, client = e->orig_addr;
	__be16 fe_port = e->nat_port, client_port = e->orig_port;
	__u32 csum = icmp + 2;
	/* The quoted request goes back to what the client sent: from itself, to the frontend. Its
	 * header checksum changes with its addresses, and ICMP's checksum covers all of it. */
	__sum16 old_check = ip.check;
	if (bpf_l3_csum_replace(skb, inner + 10, ip.saddr, client, 4) ||
	    bpf_l3_csum_replace(skb, inner + 10, ip.daddr, fe, 4))
		return -1;
	__sum16 new_check;
	if (bpf_skb_load_bytes(skb, inner + 10, &new_check, 2) ||
	    bpf_l4_csum_replace(skb, csum, old_check, new_check, 2) ||
	    icmp_rewrite(skb, csum, inner + 12, ip.saddr, client, 4) ||
	    icmp_rewrite(skb, csum, inner + 16, ip.daddr, fe, 4) ||
	    icmp_rewrite(skb, csum, inner + 20, ports[0], client_port, 2) ||
	    icmp_rewrite(skb, csum, inner + 22, ports[1], fe_port, 2))
		return -1;
	/* From the frontend when the backend itself sent it; to the client in any case. */
	if (p->tuple.saddr == ip.daddr) {
		if (ip_rewrite4(skb, ETH_HLEN + 12, p->tuple.saddr, fe))
			return -1;
		p->tuple.saddr = fe;
	}
	if (ip_rewrite4(skb, ETH_HLEN + 16, p->tuple.daddr, client))
		return -1;
	p->tuple.daddr = client;
	return 1;
}

/* The packet's addresses and ports, read whatever a program did to its header. 0: not IPv4. */
static __always_inline int trace_tuple4(struct __sk_buff *skb, struct trace_tuple *k,
					struct ct_key *key)
{
	struct iphdr ip;
	__builtin_memset(k, 0, sizeof(*k));
	__builtin_memset(key, 0, sizeof(*key));
	if (skb->protocol != bpf_htons(ETH_P_IP) ||
	    bpf_skb_load_bytes(skb, ETH_HLEN, &ip, sizeof(ip)))
		return 0;
	key->saddr = ip.saddr;
	key->daddr = ip.daddr;
	key->protocol = ip.protocol;
	if ((ip.protocol == IPPROTO_TCP || ip.protocol == IPPROTO_UDP) &&
	    !(ip.frag_off & bpf_htons(0x1fff))) {
		__be16 ports[2];
		if (bpf_skb_load_bytes(skb, ETH_HLEN + ip.ihl * 4, ports, sizeof(ports)) == 0) {
			key->sport = ports[0];
			key->dport = ports[1];
		}
	}
	k->saddr.w[0] = key->saddr;
	k->daddr.w[0] = key->daddr;
	k->sport = key->sport;
	k->dport = key->dport;
	k->protocol = key->protocol;
	k->family = 4;
	return 1;
}

/* The transport header's offset, for the trace's TCP flags. */
static __always_inline __u32 trace_l4_4(struct __sk_buff *skb)
{
	__u8 vihl = 0;
	bpf_skb_load_bytes(skb, ETH_HLEN, &vihl, 1);
	return ETH_HLEN + (vihl & 0xf) * 4;
}

static __always_inline void fib_init4(struct bpf_fib_lookup *fib, struct packet *p)
{
	fib->family = AF_INET;
	fib->ipv4_src = p->tuple.saddr;
	fib->ipv4_dst = p->tuple.daddr;
}

static __always_inline void neigh_of4(struct bpf_redir_neigh *nh, struct bpf_fib_lookup *fib)
{
	nh->nh_family = AF_INET;
	nh->ipv4_nh = fib->ipv4_dst;
}

/* The node's IPv4 address, the source of masqueraded Service traffic; 0: none. */
static __always_inline int snat_address4(__be32 *out)
{
	struct config *cfg = config();
	if (!cfg || !cfg->node_ip)
		return 0;
	*out = cfg->node_ip;
	return 1;
}
