// SPDX-License-Identifier: (GPL-2.0-only OR Apache-2.0)
/*
 * (Per family, see lib/family.h.) The programs on a pod's host veth: from_container (tc ingress)
 * and to_container (tc egress).
 */

static __noinline int F(from_container_body)(struct __sk_buff *skb)
{
	PACKET p;
	int ok = F(parse)(skb, &p);
	if (ok == 0)
		return TC_ACT_OK;
	if (ok < 0)
		return F(drop)(skb, &p, DROP_INVALID);
	struct endpoint *src = bpf_map_lookup_elem(&MAP_ENDPOINTS, &p.tuple.saddr);
	if (!src || src->ifindex != skb->ifindex)
		return F(drop_seen)(skb, &p, DROP_SPOOFED, PROG_FROM_CONTAINER, DIR_EGRESS, 0);
	__u32 src_identity = src->identity;

	NAT nat = {};
	int rev = F(lb_reply)(skb, &p);
	if (rev < 0)
		return F(drop)(skb, &p, DROP_INVALID);
	if (rev) {
		/* The backend's answer, now from the frontend, to wherever the client is. */
		return F(deliver)(skb, &p, src_identity);
	}
	int v = F(lb_request)(skb, &p, &nat);
	if (v != LB_NONE && v != LB_OK)
		return F(lb_refuse)(skb, &p, v, REJECT_TO_PEER);

	struct endpoint *dst_ep = bpf_map_lookup_elem(&MAP_ENDPOINTS, &p.tuple.daddr);
	struct ipcache_entry *dst = F(ipcache)(p.tuple.daddr);
	CT_ENTRY *ct = F(ct_lookup)(&p);
	if (ct) {
		if (ct->flags & CT_STACK)
			return TC_ACT_OK;
	} else {
		/* Policy sees a Service's traffic as translated: the backend, its port. */
		__u32 dst_identity = dst ? dst->identity : ID_WORLD;
		if (!F(policy_allows)(src, DIR_EGRESS, dst_identity, &p))
			return F(drop_seen)(skb, &p, DROP_POLICY, PROG_FROM_CONTAINER, DIR_EGRESS, &nat);
		if (dst_ep && !F(policy_allows)(dst_ep, DIR_INGRESS, src->identity, &p))
			return F(drop_seen)(skb, &p, DROP_POLICY, PROG_FROM_CONTAINER, DIR_INGRESS, &nat);
		int direct = dst_ep || (dst && dst->tunnel_endpoint) || nat.translated;
		F(ct_create)(skb, &p, direct ? 0 : CT_STACK, &nat, PROG_FROM_CONTAINER, DIR_EGRESS);
		if (!direct)
			return TC_ACT_OK;
	}
	if (dst_ep)
		return deliver_local(skb, dst_ep);
	if (dst && dst->tunnel_endpoint)
		return F(deliver_remote)(skb, &p, dst, src_identity);
	/* The node, the world, or a backend outside the pod network (a selector-less Service's
	 * endpoint): through the stack; a translated connection's replies come back through
	 * to_container or from_netdev, which translate them. */
	return TC_ACT_OK;
}

static __noinline int F(to_container_body)(struct __sk_buff *skb)
{
	if (skb->mark & MARK_FORWARDED) {
		skb->mark &= ~MARK_FORWARDED;
		return TC_ACT_OK;
	}
	PACKET p;
	int ok = F(parse)(skb, &p);
	if (ok == 0)
		return TC_ACT_OK;
	if (ok < 0)
		return F(drop)(skb, &p, DROP_INVALID);
	/* A reply from a backend the stack reached (the node, the world) to a local client. */
	int rev = F(lb_reply)(skb, &p);
	if (rev < 0)
		return F(drop)(skb, &p, DROP_INVALID);
	if (rev)
		return TC_ACT_OK;
	struct endpoint *dst = bpf_map_lookup_elem(&MAP_ENDPOINTS, &p.tuple.daddr);
	if (!dst || F(ct_lookup)(&p))
		return TC_ACT_OK;
	__u32 src_identity = F(identity_of)(p.tuple.saddr);
	struct endpoint *src = bpf_map_lookup_elem(&MAP_ENDPOINTS, &p.tuple.saddr);
	if (src && !F(policy_allows)(src, DIR_EGRESS, dst->identity, &p))
		return F(drop_seen)(skb, &p, DROP_POLICY, PROG_TO_CONTAINER, DIR_EGRESS, 0);
	if (!F(policy_allows)(dst, DIR_INGRESS, src_identity, &p))
		return F(drop_seen)(skb, &p, DROP_POLICY, PROG_TO_CONTAINER, DIR_INGRESS, 0);
	F(ct_create)(skb, &p, CT_STACK, 0, PROG_TO_CONTAINER, DIR_INGRESS);
	count(REASON_FORWARDED);
	return TC_ACT_OK;
}
