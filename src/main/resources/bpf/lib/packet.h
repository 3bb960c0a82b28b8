// SPDX-License-Identifier: (GPL-2.0-only OR Apache-2.0)
/*
 * A packet as the programs see it (its tuple and flags), and parsing it from the skb: IPv4 and
 * IPv6, each with its own tuple, so that an IPv4 packet's keys stay 4-byte ones.
 */
#pragma once

#include "maps.h"

struct packet {
	struct ct_key tuple;
	__u8 icmp_reply; /* an echo reply: its tuple is written from the requester's side */
	__u8 tcp_syn;    /* SYN without ACK: a connection starting (again) */
	__u8 tcp_close;  /* FIN or RST: a connection ending */
	__u8 ihl;        /* IP header length in 32-bit words */
	__u8 fragment;   /* a later fragment: no ports */
};

struct packet6 {
	struct ct6_key tuple;
	__u8 icmp_reply;
	__u8 tcp_syn;
	__u8 tcp_close;
	__u8 pad;
	__u8 fragment;
	__u8 pad2;
	__u16 l4; /* where the transport header starts, past the extension headers */
};

/* The translation a Service gave a packet, for the conntrack entry of its new connection. */
struct nat {
	__u8 translated;
	__u8 pad[3];
	__be32 frontend_addr;
	__be16 frontend_port;
	__be16 client_port;
	__be32 client_addr;
};

struct nat6 {
	__u8 translated;
	__u8 pad[3];
	union v6addr frontend_addr;
	__be16 frontend_port;
	__be16 client_port;
	union v6addr client_addr;
};

/* Ports, TCP flags or the ICMP echo id at l4; shared by both families. -1: truncated. */
static __always_inline int parse_l4(void *l4, void *end, __u8 protocol, __u8 echo, __u8 echo_reply,
				    __be16 *sport, __be16 *dport, __u8 *syn, __u8 *close,
				    __u8 *icmp_reply)
{
	if (protocol == IPPROTO_TCP || protocol == IPPROTO_UDP) {
		__be16 *ports = l4;
		if ((void *)(ports + 2) > end)
			return -1;
		*sport = ports[0];
		*dport = ports[1];
		if (protocol == IPPROTO_TCP) {
			struct tcphdr *tcp = l4;
			if ((void *)(tcp + 1) > end)
				return -1;
			*syn = tcp->syn && !tcp->ack;
			*close = tcp->fin || tcp->rst;
		}
	} else if (protocol == (echo == ICMP_ECHO ? IPPROTO_ICMP : IPPROTO_ICMPV6)) {
		struct icmp_echo *icmp = l4;
		if ((void *)(icmp + 1) > end)
			return -1;
		if (icmp->type == echo) {
			*sport = icmp->id;
		} else if (icmp->type == echo_reply) {
			*dport = icmp->id;
			*icmp_reply = 1;
		}
	}
	return 0;
}

/* 1: an IPv4 packet, parsed; 0: not IPv4 (left alone); -1: malformed. */
static __always_inline int parse4(struct __sk_buff *skb, struct packet *p)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	__builtin_memset(p, 0, sizeof(*p));
	if ((void *)(eth + 1) > end)
		return 0;
	if (eth->h_proto != bpf_htons(ETH_P_IP))
		return 0;
	struct iphdr *ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > end || ip->ihl < 5)
		return -1;
	p->tuple.saddr = ip->saddr;
	p->tuple.daddr = ip->daddr;
	p->tuple.protocol = ip->protocol;
	p->ihl = ip->ihl;
	/* A later fragment carries no ports: it is matched by addresses and protocol only. */
	if (ip->frag_off & bpf_htons(0x1fff)) {
		p->fragment = 1;
		return 1;
	}
	if (parse_l4((void *)ip + ip->ihl * 4, end, ip->protocol, ICMP_ECHO, ICMP_ECHOREPLY,
		     &p->tuple.sport, &p->tuple.dport, &p->tcp_syn, &p->tcp_close,
		     &p->icmp_reply) < 0)
		return -1;
	return 1;
}

#define IPV6_EXT_HEADERS 6 /* extension headers skipped at most; a longer chain is malformed */

/* Neighbour discovery and multicast listener messages: the stack's, never a connection's. */
static __always_inline int icmp6_link_control(__u8 type)
{
	return (type >= ICMPV6_MGM_QUERY && type <= ICMPV6_MGM_REDUCTION) ||
	       (type >= 133 && type <= 137) || /* router and neighbour solicitation, advertisement;
						  redirect */
	       type == ICMPV6_MLD2_REPORT;
}

/* 1: an IPv6 packet, parsed; 0: not IPv6, or the link's own (neighbour discovery, MLD: left to
 * the stack); -1: malformed. Extension headers are skipped; a fragment other than the first
 * carries no ports, as in IPv4. */
static __always_inline int parse6(struct __sk_buff *skb, struct packet6 *p)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	__builtin_memset(p, 0, sizeof(*p));
	if ((void *)(eth + 1) > end)
		return 0;
	if (eth->h_proto != bpf_htons(ETH_P_IPV6))
		return 0;
	struct ipv6hdr *ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > end)
		return -1;
	__builtin_memcpy(&p->tuple.saddr, &ip->saddr, 16);
	__builtin_memcpy(&p->tuple.daddr, &ip->daddr, 16);
	__u8 next = ip->nexthdr;
	__u32 off = ETH_HLEN + sizeof(*ip);
	for (int i = 0; i < IPV6_EXT_HEADERS; i++) {
		if (next == IPPROTO_HOPOPTS || next == IPPROTO_ROUTING || next == IPPROTO_DSTOPTS) {
			struct ipv6_opt_hdr h;
			if (bpf_skb_load_bytes(skb, off, &h, sizeof(h)))
				return -1;
			next = h.nexthdr;
			off += (h.hdrlen + 1) * 8;
		} else if (next == IPPROTO_FRAGMENT) {
			struct frag_hdr {
				__u8 nexthdr;
				__u8 reserved;
				__be16 frag_off;
				__be32 identification;
			} h;
			if (bpf_skb_load_bytes(skb, off, &h, sizeof(h)))
				return -1;
			next = h.nexthdr;
			off += sizeof(h);
			if (h.frag_off & bpf_htons(0xfff8))
				p->fragment = 1;
		} else {
			break;
		}
	}
	if (next == IPPROTO_HOPOPTS || next == IPPROTO_ROUTING || next == IPPROTO_DSTOPTS ||
	    next == IPPROTO_FRAGMENT)
		return -1;
	p->tuple.protocol = next;
	p->l4 = off;
	if (p->fragment)
		return 1;
	if (off > 512)
		return -1;
	void *l4 = data + off;
	if (next == IPPROTO_ICMPV6) {
		__u8 *type = l4;
		if ((void *)(type + 1) > end)
			return -1;
		if (icmp6_link_control(*type))
			return 0;
	}
	if (parse_l4(l4, end, next, ICMPV6_ECHO_REQUEST, ICMPV6_ECHO_REPLY, &p->tuple.sport,
		     &p->tuple.dport, &p->tcp_syn, &p->tcp_close, &p->icmp_reply) < 0)
		return -1;
	return 1;
}
