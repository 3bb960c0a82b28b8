// SPDX-License-Identifier: (GPL-2.0-only OR Apache-2.0)
/*
 * The programs on a pod's host veth: from_container (tc ingress) and to_container (tc egress).
 */
#pragma once

#include "lib/lb.h"

static __always_inline int from_container_body(struct __sk_buff *skb)
{
	struct packet p;
	int ok = parse(skb, &p);
	if (ok == 0)
		return TC_ACT_OK;
	if (ok < 0)
		return drop(skb, &p, DROP_INVALID);
	struct endpoint *src = bpf_map_lookup_elem(&tw_endpoints, &p.tuple.saddr);
	if (!src || src->ifindex != skb->ifindex)
		return drop_seen(skb, &p, DROP_SPOOFED, PROG_FROM_CONTAINER, DIR_EGRESS, 0);
	__u32 src_identity = src->identity;

	struct nat nat = {};
	int rev = lb_reply(skb, &p);
	if (rev < 0)
		return drop(skb, &p, DROP_INVALID);
	if (rev) {
		/* The backend's answer, now from the frontend, to wherever the client is. */
		return deliver(skb, &p, src_identity);
	}
	int v = lb_request(skb, &p, &nat);
	if (v != LB_NONE && v != LB_OK)
		return lb_refuse(skb, &p, v, REJECT_TO_PEER);

	struct endpoint *dst_ep = bpf_map_lookup_elem(&tw_endpoints, &p.tuple.daddr);
	struct ipcache_entry *dst = ipcache(p.tuple.daddr);
	struct ct_entry *ct = ct_lookup(&p);
	if (ct) {
		if (ct->flags & CT_STACK)
			return TC_ACT_OK;
	} else {
		/* Policy sees a Service's traffic as translated: the backend, its port. */
		__u32 dst_identity = dst ? dst->identity : ID_WORLD;
		if (!policy_allows(src, DIR_EGRESS, dst_identity, &p))
			return drop_seen(skb, &p, DROP_POLICY, PROG_FROM_CONTAINER, DIR_EGRESS, &nat);
		if (dst_ep && !policy_allows(dst_ep, DIR_INGRESS, src->identity, &p))
			return drop_seen(skb, &p, DROP_POLICY, PROG_FROM_CONTAINER, DIR_INGRESS, &nat);
		int direct = dst_ep || (dst && dst->tunnel_endpoint) || nat.translated;
		ct_create(skb, &p, direct ? 0 : CT_STACK, &nat, PROG_FROM_CONTAINER, DIR_EGRESS);
		if (!direct)
			return TC_ACT_OK;
	}
	if (dst_ep)
		return deliver_local(skb, dst_ep);
	if (dst && dst->tunnel_endpoint)
		return deliver_remote(skb, &p, dst, src_identity);
	/* The node, the world, or a backend outside the pod network (a selector-less Service's
	 * endpoint): through the stack; a translated connection's replies come back through
	 * to_container or from_netdev, which translate them. */
	return TC_ACT_OK;
}

static __always_inline int to_container_body(struct __sk_buff *skb)
{
	if (skb->mark & MARK_FORWARDED) {
		skb->mark &= ~MARK_FORWARDED;
		return TC_ACT_OK;
	}
	struct packet p;
	int ok = parse(skb, &p);
	if (ok == 0)
		return TC_ACT_OK;
	if (ok < 0)
		return drop(skb, &p, DROP_INVALID);
	/* A reply from a backend the stack reached (the node, the world) to a local client. */
	int rev = lb_reply(skb, &p);
	if (rev < 0)
		return drop(skb, &p, DROP_INVALID);
	if (rev)
		return TC_ACT_OK;
	struct endpoint *dst = bpf_map_lookup_elem(&tw_endpoints, &p.tuple.daddr);
	if (!dst || ct_lookup(&p))
		return TC_ACT_OK;
	__u32 src_identity = identity_of(p.tuple.saddr);
	struct endpoint *src = bpf_map_lookup_elem(&tw_endpoints, &p.tuple.saddr);
	if (src && !policy_allows(src, DIR_EGRESS, dst->identity, &p))
		return drop_seen(skb, &p, DROP_POLICY, PROG_TO_CONTAINER, DIR_EGRESS, 0);
	if (!policy_allows(dst, DIR_INGRESS, src_identity, &p))
		return drop_seen(skb, &p, DROP_POLICY, PROG_TO_CONTAINER, DIR_INGRESS, 0);
	ct_create(skb, &p, CT_STACK, 0, PROG_TO_CONTAINER, DIR_INGRESS);
	count(REASON_FORWARDED);
	return TC_ACT_OK;
}
