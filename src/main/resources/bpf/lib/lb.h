// SPDX-License-Identifier: (GPL-2.0-only OR Apache-2.0)
/*
 * Service load balancing: frontends, backends, affinity, source ranges, SNAT ports, replies.
 */
#pragma once

#include "nat.h"

/* An ICMP error about a translated connection (the backend's port unreachable, fragmentation
 * needed on the way) is translated as the connection's replies are, the packet it quotes
 * included, so that the client's socket recognises it: what the kernel's conntrack does for the
 * RELATED packets of a NATed connection. 1: translated, 0: not such an error, -1: failed. */
static __always_inline int lb_icmp_error(struct __sk_buff *skb, struct packet *p)
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
		if (ip_rewrite(skb, ETH_HLEN + 12, p->tuple.saddr, fe))
			return -1;
		p->tuple.saddr = fe;
	}
	if (ip_rewrite(skb, ETH_HLEN + 16, p->tuple.daddr, client))
		return -1;
	p->tuple.daddr = client;
	return 1;
}

/* A reply of a translated connection gets the frontend back as its source, and the client's
 * address as its destination where the request was masqueraded. 1: translated, 0: not a reply of
 * a translated connection (an ICMP error about one included), -1: could not rewrite. */
static __always_inline int lb_reply(struct __sk_buff *skb, struct packet *p)
{
	if (p->fragment)
		return 0;
	if (p->tuple.protocol == IPPROTO_ICMP)
		return lb_icmp_error(skb, p);
	if (p->tuple.protocol != IPPROTO_TCP && p->tuple.protocol != IPPROTO_UDP)
		return 0;
	struct ct_key r;
	reverse(&p->tuple, &r);
	struct ct_entry *e = bpf_map_lookup_elem(&tw_ct, &r);
	if (!e || !(e->flags & CT_REVNAT))
		return 0;
	ct_touch(e, p);
	__be32 fe_addr = e->nat_addr, client = e->orig_addr;
	__be16 fe_port = e->nat_port, client_port = e->orig_port;
	if (p->tcp_close) {
		/* The backend ends it: so does the client's request entry, which only the client's
		 * packets would otherwise mark. */
		struct ct_key req = {.saddr = client, .daddr = fe_addr, .sport = client_port,
				     .dport = fe_port, .protocol = p->tuple.protocol};
		struct ct_entry *svc = bpf_map_lookup_elem(&tw_ct, &req);
		if (svc && (svc->flags & CT_SVC))
			svc->flags |= CT_CLOSING;
	}
	if (nat_rewrite(skb, p, 0, fe_addr, fe_port) || nat_rewrite(skb, p, 1, client, client_port))
		return -1;
	return 1;
}

enum lb_verdict {
	LB_NONE = 0,   /* not for a Service */
	LB_OK = 1,     /* translated */
	LB_REJECT = 2, /* no backend anywhere */
	LB_DROP = 3,   /* no backend in scope, or not allowed to the frontend */
	LB_RANGE = 4,  /* outside the load balancer's source ranges */
};

/* A backend for this client: the one its affinity names while it lasts, else one at random. */
static __always_inline int lb_pick(struct packet *p, const struct lb_frontend *fe,
				   struct lb_backend **out, __u32 *out_id)
{
	struct lb_service_key k = {.service = fe->service, .scope = fe->flags & FE_EXTERNAL};
	struct lb_service *svc = bpf_map_lookup_elem(&tw_lb_services, &k);
	if (!svc)
		return LB_DROP;
	__u32 n = svc->count_or_backend;
	if (n == 0)
		return svc->flags & SVC_DROP_EMPTY ? LB_DROP : LB_REJECT;
	__u64 now = bpf_ktime_get_ns();
	__u64 timeout = (__u64)svc->affinity_seconds * 1000000000ULL;
	struct lb_affinity_key ak = {.client = p->tuple.saddr, .service = fe->service};
	if (timeout) {
		struct lb_affinity *a = bpf_map_lookup_elem(&tw_lb_affinity, &ak);
		if (a && now - a->last_used_ns <= timeout) {
			__u32 id = a->backend;
			struct lb_backend *b = bpf_map_lookup_elem(&tw_lb_backends, &id);
			if (b && b->service == fe->service) {
				a->last_used_ns = now;
				*out = b;
				*out_id = id;
				return LB_OK;
			}
		}
	}
	k.slot = bpf_get_prandom_u32() % n + 1;
	struct lb_service *slot = bpf_map_lookup_elem(&tw_lb_services, &k);
	if (!slot)
		return LB_DROP;
	__u32 id = slot->count_or_backend;
	struct lb_backend *b = bpf_map_lookup_elem(&tw_lb_backends, &id);
	if (!b)
		return LB_DROP;
	if (timeout) {
		struct lb_affinity a = {.last_used_ns = now, .backend = id};
		bpf_map_update_elem(&tw_lb_affinity, &ak, &a, BPF_ANY);
	}
	*out = b;
	*out_id = id;
	return LB_OK;
}

/* A source port for masqueraded traffic to a backend that no other connection uses: the client's
 * own if free, else another derived from it. 0: none free. */
static __always_inline __be16 snat_port(struct packet *p, __be32 snat, __be32 baddr, __be16 bport)
{
	struct ct_key k = {.saddr = snat, .daddr = baddr, .dport = bport,
			   .protocol = p->tuple.protocol};
	__u16 port = bpf_ntohs(p->tuple.sport);
	for (int i = 0; i < 8; i++) {
		k.sport = bpf_htons(port);
		struct ct_entry *e = bpf_map_lookup_elem(&tw_ct, &k);
		if (!e || (e->orig_addr == p->tuple.saddr && e->orig_port == p->tuple.sport))
			return k.sport;
		port = 32768 + ((port * 7919 + i * 104729) & 0x7fff);
	}
	return 0;
}

/* A request to a frontend: translated to a backend (the same one as the connection's earlier
 * packets), with its reply translation in nat. */
static __always_inline int lb_request(struct __sk_buff *skb, struct packet *p, struct nat *nat)
{
	if (p->fragment || (p->tuple.protocol != IPPROTO_TCP && p->tuple.protocol != IPPROTO_UDP))
		return to_service(p) ? LB_DROP : LB_NONE;
	struct lb_frontend_key fk = {.addr = p->tuple.daddr, .port = p->tuple.dport,
				     .protocol = p->tuple.protocol};
	struct lb_frontend *fe = bpf_map_lookup_elem(&tw_lb_frontends, &fk);
	if (!fe)
		return to_service(p) ? LB_DROP : LB_NONE;
	if (fe->flags & FE_SOURCE_RANGES) {
		struct lb_source_key sk = {.prefixlen = 64, .service = fe->service,
					   .addr = p->tuple.saddr};
		if (!bpf_map_lookup_elem(&tw_lb_source_ranges, &sk))
			return LB_RANGE;
	}
	__be32 baddr, snat;
	__be16 bport, sport;
	struct ct_entry *known = bpf_map_lookup_elem(&tw_ct, &p->tuple);
	struct lb_backend *b = 0;
	if (known && (known->flags & CT_SVC)) {
		ct_touch(known, p);
		/* Still the same backend, if it still serves (a repeated SYN included). */
		__u32 id = known->backend;
		b = bpf_map_lookup_elem(&tw_lb_backends, &id);
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
		int v = lb_pick(p, fe, &b, &id);
		if (v != LB_OK)
			return v;
		baddr = b->addr;
		bport = b->port;
		snat = p->tuple.saddr;
		sport = p->tuple.sport;
		struct config *cfg = config();
		/* kube-proxy masquerades traffic from outside to a Cluster-policy frontend, and a pod
		 * that reaches itself (it would otherwise see its own address as the source). */
		if (cfg && cfg->node_ip && ((fe->flags & FE_MASQUERADE) || baddr == p->tuple.saddr)) {
			snat = cfg->node_ip;
			sport = snat_port(p, snat, baddr, bport);
			if (!sport)
				return LB_DROP;
		}
		struct ct_entry e = {};
		e.created_ns = e.last_seen_ns = bpf_ktime_get_ns();
		e.flags = CT_SVC;
		e.backend = id;
		e.nat_addr = baddr;
		e.nat_port = bport;
		e.orig_addr = snat;
		e.orig_port = sport;
		bpf_map_update_elem(&tw_ct, &p->tuple, &e, BPF_ANY);
	}
	nat->translated = 1;
	nat->frontend_addr = p->tuple.daddr;
	nat->frontend_port = p->tuple.dport;
	nat->client_addr = p->tuple.saddr;
	nat->client_port = p->tuple.sport;
	if (nat_rewrite(skb, p, 1, baddr, bport) || nat_rewrite(skb, p, 0, snat, sport))
		return LB_DROP;
	return LB_OK;
}

/* The verdict for a request lb_request did not translate. */
static __always_inline int lb_refuse(struct __sk_buff *skb, struct packet *p, int v,
				     enum reject_to to)
{
	if (v == LB_REJECT)
		return reject(skb, p, to);
	return drop(skb, p, v == LB_RANGE ? DROP_SOURCE_RANGE : DROP_NO_SERVICE);
}
