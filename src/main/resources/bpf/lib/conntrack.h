// SPDX-License-Identifier: (GPL-2.0-only OR Apache-2.0)
/*
 * (Per family, see family.h.) Connections tracked by the programs themselves (this kernel has no
 * conntrack kfuncs).
 */
static __always_inline void F(reverse)(const CT_KEY *t, CT_KEY *r)
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
static __always_inline void F(ct_touch)(CT_ENTRY *e, const PACKET *p)
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
static __always_inline CT_ENTRY *F(ct_lookup)(PACKET *p)
{
	/* A SYN opens a new connection even where an old one with the same ports was tracked (its
	 * entry outlives it until evicted): it is judged by today's policy, and replaces the entry. */
	if (p->tcp_syn)
		return NULL;
	CT_ENTRY *e = bpf_map_lookup_elem(&MAP_CT, &p->tuple);
	if (!e) {
		CT_KEY r;
		F(reverse)(&p->tuple, &r);
		e = bpf_map_lookup_elem(&MAP_CT, &r);
	}
	if (e)
		F(ct_touch)(e, p);
	return e;
}

/* A new connection's entry; a translated one also records how to translate its replies back. */
static __always_inline void F(ct_create)(struct __sk_buff *skb, PACKET *p, __u32 flags,
					 const NAT *nat, __u8 program, __u8 direction)
{
	F(emit)(skb, p, VERDICT_FORWARDED, 0, program, direction, nat);
	CT_ENTRY e = {};
	e.created_ns = e.last_seen_ns = bpf_ktime_get_ns();
	e.flags = flags;
	if (nat && nat->translated) {
		e.flags |= CT_REVNAT;
		e.nat_addr = nat->frontend_addr;
		e.nat_port = nat->frontend_port;
		e.orig_addr = nat->client_addr;
		e.orig_port = nat->client_port;
	}
	bpf_map_update_elem(&MAP_CT, &p->tuple, &e, BPF_ANY);
}
