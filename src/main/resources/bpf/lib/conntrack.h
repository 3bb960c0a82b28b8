// SPDX-License-Identifier: (GPL-2.0-only OR Apache-2.0)
/*
 * Connections tracked by the programs themselves (this kernel has no conntrack kfuncs).
 */
#pragma once

#include "events.h"

static __always_inline void reverse(const struct ct_key *t, struct ct_key *r)
{
	r->saddr = t->daddr;
	r->daddr = t->saddr;
	r->sport = t->dport;
	r->dport = t->sport;
	r->protocol = t->protocol;
	r->pad[0] = r->pad[1] = r->pad[2] = 0;
}

/* A tracked connection's packet: the connection is alive now, and ending once a FIN or RST is
 * seen (a SYN that reuses the entry starts it again). The agent's collector removes what ended or
 * went quiet, so that the map's LRU eviction never has to make room by dropping a live one. */
static __always_inline void ct_touch(struct ct_entry *e, const struct packet *p)
{
	/* Written at most once a second: both directions of a busy connection, on different CPUs,
	 * would otherwise bounce the entry's cache line between them on every packet. */
	__u64 now = bpf_ktime_get_ns();
	if (now - e->last_seen_ns > CT_TOUCH_NS)
		e->last_seen_ns = now;
	if (p->tcp_close && !(e->flags & CT_CLOSING))
		e->flags |= CT_CLOSING;
	else if (p->tcp_syn && (e->flags & CT_CLOSING))
		e->flags &= ~CT_CLOSING;
}

/* The tracked connection this packet belongs to, in either direction, or NULL. */
static __always_inline struct ct_entry *ct_lookup(struct packet *p)
{
	/* A SYN opens a new connection even where an old one with the same ports was tracked (its
	 * entry outlives it until evicted): it is judged by today's policy, and replaces the entry. */
	if (p->tcp_syn)
		return NULL;
	struct ct_entry *e = bpf_map_lookup_elem(&tw_ct, &p->tuple);
	if (!e) {
		struct ct_key r;
		reverse(&p->tuple, &r);
		e = bpf_map_lookup_elem(&tw_ct, &r);
	}
	if (e)
		ct_touch(e, p);
	return e;
}

/* A new connection's entry; a translated one also records how to translate its replies back. */
static __always_inline void ct_create(struct __sk_buff *skb, struct packet *p, __u32 flags,
				      const struct nat *nat, __u8 program, __u8 direction)
{
	emit(skb, p, VERDICT_FORWARDED, 0, program, direction, nat);
	struct ct_entry e = {};
	e.created_ns = e.last_seen_ns = bpf_ktime_get_ns();
	e.flags = flags;
	if (nat && nat->translated) {
		e.flags |= CT_REVNAT;
		e.nat_addr = nat->frontend_addr;
		e.nat_port = nat->frontend_port;
		e.orig_addr = nat->client_addr;
		e.orig_port = nat->client_port;
	}
	bpf_map_update_elem(&tw_ct, &p->tuple, &e, BPF_ANY);
}
