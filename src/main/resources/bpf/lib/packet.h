// SPDX-License-Identifier: (GPL-2.0-only OR Apache-2.0)
/*
 * A packet as the programs see it (its tuple and flags), and parsing it from the skb.
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

/* The translation a Service gave a packet, for the conntrack entry of its new connection. */
struct nat {
	__u8 translated;
	__u8 pad[3];
	__be32 frontend_addr;
	__be16 frontend_port;
	__be16 client_port;
	__be32 client_addr;
};

/* 1: an IPv4 packet, parsed; 0: not IPv4 (left alone); -1: malformed. */
static __always_inline int parse(struct __sk_buff *skb, struct packet *p)
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
	void *l4 = (void *)ip + ip->ihl * 4;
	if (ip->protocol == IPPROTO_TCP || ip->protocol == IPPROTO_UDP) {
		__be16 *ports = l4;
		if ((void *)(ports + 2) > end)
			return -1;
		p->tuple.sport = ports[0];
		p->tuple.dport = ports[1];
		if (ip->protocol == IPPROTO_TCP) {
			struct tcphdr *tcp = l4;
			if ((void *)(tcp + 1) > end)
				return -1;
			p->tcp_syn = tcp->syn && !tcp->ack;
			p->tcp_close = tcp->fin || tcp->rst;
		}
	} else if (ip->protocol == IPPROTO_ICMP) {
		struct icmp_echo *icmp = l4;
		if ((void *)(icmp + 1) > end)
			return -1;
		if (icmp->type == ICMP_ECHO) {
			p->tuple.sport = icmp->id;
		} else if (icmp->type == ICMP_ECHOREPLY) {
			p->tuple.dport = icmp->id;
			p->icmp_reply = 1;
		}
	}
	return 1;
}
