// SPDX-License-Identifier: (GPL-2.0-only OR Apache-2.0)
/*
 * (Per family, see family.h.) Service load balancing: frontends, backends, affinity, source
 * ranges, SNAT ports, replies. A dual-stack Service is two services here, one in each family's
 * maps.
 */

/* A reply of a translated connection gets the frontend back as its source, and the client's
 * address as its destination where the request was masqueraded. 1: translated, 0: not a reply of
 * a translated connection (an ICMP error about one included), -1: could not rewrite. */
static __always_inline int F(lb_reply)(struct __sk_buff *skb, PACKET *p)
{
	if (p->fragment)
		return 0;
	if (p->tuple.protocol == PROTO_ICMP)
		return F(lb_icmp_error)(skb, p);
	if (p->tuple.protocol != IPPROTO_TCP && p->tuple.protocol != IPPROTO_UDP)
		return 0;
	CT_KEY r;
	F(reverse)(&p->tuple, &r);
	CT_ENTRY *e = bpf_map_lookup_elem(&MAP_CT, &r);
	if (!e || !(e->flags & CT_REVNAT))
		return 0;
	F(ct_touch)(e, p);
	ADDR fe_addr = e->nat_addr, client = e->orig_addr;
	__be16 fe_port = e->nat_port, client_port = e->orig_port;
	if (p->tcp_close) {
		/* The backend ends it: so does the client's request entry, which only the client's
		 * packets would otherwise mark. */
		CT_KEY req = {.saddr = client, .daddr = fe_addr, .sport = client_port,
			      .dport = fe_port, .protocol = p->tuple.protocol};
		CT_ENTRY *svc = bpf_map_lookup_elem(&MAP_CT, &req);
		if (svc && (svc->flags & CT_SVC))
			svc->flags |= CT_CLOSING;
	}
	if (F(nat_rewrite)(skb, p, 0, fe_addr, fe_port) ||
	    F(nat_rewrite)(skb, p, 1, client, client_port))
		return -1;
	return 1;
}

/* A backend for this client: the one its affinity names while it lasts, else one at random. */
static __always_inline int F(lb_pick)(PACKET *p, const struct lb_frontend *fe, LB_BACKEND **out,
				      __u32 *out_id)
{
	struct lb_service_key k = {.service = fe->service, .scope = fe->flags & FE_EXTERNAL};
	struct lb_service *svc = bpf_map_lookup_elem(&MAP_LB_SERVICES, &k);
	if (!svc)
		return LB_DROP;
	__u32 n = svc->count_or_backend;
	if (n == 0)
		return svc->flags & SVC_DROP_EMPTY ? LB_DROP : LB_REJECT;
	__u64 now = bpf_ktime_get_ns();
	__u64 timeout = (__u64)svc->affinity_seconds * 1000000000ULL;
	LB_AFFINITY_KEY ak = {.client = p->tuple.saddr, .service = fe->service};
	if (timeout) {
		struct lb_affinity *a = bpf_map_lookup_elem(&MAP_LB_AFFINITY, &ak);
		if (a && now - a->last_used_ns <= timeout) {
			__u32 id = a->backend;
			LB_BACKEND *b = bpf_map_lookup_elem(&MAP_LB_BACKENDS, &id);
			if (b && b->service == fe->service) {
				a->last_used_ns = now;
				*out = b;
				*out_id = id;
				return LB_OK;
			}
		}
	}
	k.slot = bpf_get_prandom_u32() % n + 1;
	struct lb_service *slot = bpf_map_lookup_elem(&MAP_LB_SERVICES, &k);
	if (!slot)
		return LB_DROP;
	__u32 id = slot->count_or_backend;
	LB_BACKEND *b = bpf_map_lookup_elem(&MAP_LB_BACKENDS, &id);
	if (!b)
		return LB_DROP;
	if (timeout) {
		struct lb_affinity a = {.last_used_ns = now, .backend = id};
		bpf_map_update_elem(&MAP_LB_AFFINITY, &ak, &a, BPF_ANY);
	}
	*out = b;
	*out_id = id;
	return LB_OK;
}

/* A source port for masqueraded traffic to a backend that no other connection uses: the client's
 * own if free, else another derived from it. 0: none free. */
static __always_inline __be16 F(snat_port)(PACKET *p, ADDR snat, ADDR baddr, __be16 bport)
{
	CT_KEY k = {.saddr = snat, .daddr = baddr, .dport = bport, .protocol = p->tuple.protocol};
	__u16 port = bpf_ntohs(p->tuple.sport);
	for (int i = 0; i < 8; i++) {
		k.sport = bpf_htons(port);
		CT_ENTRY *e = bpf_map_lookup_elem(&MAP_CT, &k);
		if (!e || (ADDR_EQ(e->orig_addr, p->tuple.saddr) && e->orig_port == p->tuple.sport))
			return k.sport;
		port = 32768 + ((port * 7919 + i * 104729) & 0x7fff);
	}
	return 0;
}

/* A request to a frontend: translated to a backend (the same one as the connection's earlier
 * packets), with its reply translation in nat. */
static __always_inline int F(lb_request)(struct __sk_buff *skb, PACKET *p, NAT *nat)
{
	if (p->fragment || (p->tuple.protocol != IPPROTO_TCP && p->tuple.protocol != IPPROTO_UDP))
		return F(to_service)(p) ? LB_DROP : LB_NONE;
	LB_FRONTEND_KEY fk = {.addr = p->tuple.daddr, .port = p->tuple.dport,
			      .protocol = p->tuple.protocol};
	struct lb_frontend *fe = bpf_map_lookup_elem(&MAP_LB_FRONTENDS, &fk);
	if (!fe)
		return F(to_service)(p) ? LB_DROP : LB_NONE;
	if (fe->flags & FE_SOURCE_RANGES) {
		LB_SOURCE_KEY sk = {.prefixlen = 32 + ADDR_PREFIX, .service = fe->service,
				    .addr = p->tuple.saddr};
		if (!bpf_map_lookup_elem(&MAP_LB_SOURCES, &sk))
			return LB_RANGE;
	}
	ADDR baddr, snat;
	__be16 bport, sport;
	CT_ENTRY *known = bpf_map_lookup_elem(&MAP_CT, &p->tuple);
	LB_BACKEND *b = 0;
	if (known && (known->flags & CT_SVC)) {
		F(ct_touch)(known, p);
		/* Still the same backend, if it still serves (a repeated SYN included). */
		__u32 id = known->backend;
		b = bpf_map_lookup_elem(&MAP_LB_BACKENDS, &id);
		if (b && b->service != fe->service)
			b = 0;
	}
	if (b) {
		baddr = known->nat_addr;
		bport = known->nat_port;
		snat = known->orig_addr;
		sport = known->orig_port;
	} else {
		__u32 id = 0;
		int v = F(lb_pick)(p, fe, &b, &id);
		if (v != LB_OK)
			return v;
		baddr = b->addr;
		bport = b->port;
		snat = p->tuple.saddr;
		sport = p->tuple.sport;
		ADDR node;
		/* kube-proxy masquerades traffic from outside to a Cluster-policy frontend, and a pod
		 * that reaches itself (it would otherwise see its own address as the source). */
		if (((fe->flags & FE_MASQUERADE) || ADDR_EQ(baddr, p->tuple.saddr)) &&
		    F(snat_address)(&node)) {
			snat = node;
			sport = F(snat_port)(p, snat, baddr, bport);
			if (!sport)
				return LB_DROP;
		}
		CT_ENTRY e = {};
		e.created_ns = e.last_seen_ns = bpf_ktime_get_ns();
		e.flags = CT_SVC;
		e.backend = id;
		e.nat_addr = baddr;
		e.nat_port = bport;
		e.orig_addr = snat;
		e.orig_port = sport;
		bpf_map_update_elem(&MAP_CT, &p->tuple, &e, BPF_ANY);
	}
	nat->translated = 1;
	nat->frontend_addr = p->tuple.daddr;
	nat->frontend_port = p->tuple.dport;
	nat->client_addr = p->tuple.saddr;
	nat->client_port = p->tuple.sport;
	if (F(nat_rewrite)(skb, p, 1, baddr, bport) || F(nat_rewrite)(skb, p, 0, snat, sport))
		return LB_DROP;
	return LB_OK;
}

/* The verdict for a request lb_request did not translate. */
static __always_inline int F(lb_refuse)(struct __sk_buff *skb, PACKET *p, int v, enum reject_to to)
{
	if (v == LB_REJECT)
		return F(reject)(skb, p, to);
	return F(drop)(skb, p, v == LB_RANGE ? DROP_SOURCE_RANGE : DROP_NO_SERVICE);
}
