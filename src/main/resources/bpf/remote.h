// SPDX-License-Identifier: (GPL-2.0-only OR Apache-2.0)
/*
 * (Per family, see lib/family.h.) The programs on the node's VXLAN device and eth0:
 * from_overlay/from_netdev (ingress),
 * to_overlay/to_netdev (egress).
 */

/* A packet from another node (decapsulated, or routed) to this node. */
static __always_inline int F(from_remote)(struct __sk_buff *skb, int overlay)
{
	__u8 prog = overlay ? PROG_FROM_OVERLAY : PROG_FROM_NETDEV;
	PACKET p;
	int ok = F(parse)(skb, &p);
	if (ok == 0)
		return TC_ACT_OK;
	if (ok < 0)
		return F(drop)(skb, &p, DROP_INVALID);
	__u32 src_identity = F(identity_of)(p.tuple.saddr);
	int rev = F(lb_reply)(skb, &p);
	if (rev < 0)
		return F(drop)(skb, &p, DROP_INVALID);
	if (rev)
		return F(deliver)(skb, &p, ID_HOST);
	NAT nat = {};
	int v = F(lb_request)(skb, &p, &nat);
	if (v != LB_NONE && v != LB_OK)
		return F(lb_refuse)(skb, &p, v, REJECT_BACK_OUT);
	struct endpoint *dst = bpf_map_lookup_elem(&MAP_ENDPOINTS, &p.tuple.daddr);
	CT_ENTRY *ct = F(ct_lookup)(&p);
	if (nat.translated) {
		/* From outside to a node port, an external or a load-balancer IP: policy is the
		 * backend's node's, judged on the client's identity where the backend is local. */
		if (!ct) {
			if (dst && !F(policy_allows)(dst, DIR_INGRESS, src_identity, &p))
				return F(drop_seen)(skb, &p, DROP_POLICY, prog, DIR_INGRESS, &nat);
			F(ct_create)(skb, &p, 0, &nat, prog, DIR_INGRESS);
		}
		return F(deliver)(skb, &p, ID_HOST);
	}
	if (!dst || (ct && (ct->flags & CT_STACK))) {
		/* For the node itself, or a connection the stack carries: the inner frame was addressed
		 * to the sender's idea of a next hop, so the stack is told it is for this host. */
		if (overlay)
			bpf_skb_change_type(skb, PACKET_HOST);
		return TC_ACT_OK;
	}
	if (!ct) {
		if (src_identity < ID_FIRST_CLUSTER) {
			/* From a node or the world: the stack routes it to the pod, where to_container
			 * applies the policy, and carries the connection both ways. */
			if (overlay)
				bpf_skb_change_type(skb, PACKET_HOST);
			return TC_ACT_OK;
		}
		if (!F(policy_allows)(dst, DIR_INGRESS, src_identity, &p))
			return F(drop_seen)(skb, &p, DROP_POLICY, prog, DIR_INGRESS, 0);
		F(ct_create)(skb, &p, 0, 0, prog, DIR_INGRESS);
	}
	return deliver_local(skb, dst);
}

static __noinline int F(from_overlay_body)(struct __sk_buff *skb)
{
	return F(from_remote)(skb, 1);
}

static __noinline int F(from_netdev_body)(struct __sk_buff *skb)
{
	return F(from_remote)(skb, 0);
}

/* A packet leaving toward another node that the stack routed (not from_container's direct path). */
static __always_inline int F(to_remote)(struct __sk_buff *skb, int overlay)
{
	if (skb->mark & MARK_FORWARDED) {
		skb->mark &= ~MARK_FORWARDED;
		return TC_ACT_OK;
	}
	__u8 prog = overlay ? PROG_TO_OVERLAY : PROG_TO_NETDEV;
	PACKET p;
	int ok = F(parse)(skb, &p);
	if (ok == 0)
		return TC_ACT_OK;
	if (ok < 0)
		return F(drop)(skb, &p, DROP_INVALID);
	if (!overlay) {
		/* The node's own connection to a Service (its default route leads out here): the
		 * backend replaces the frontend, and the packet is sent on to it afresh. */
		NAT nat = {};
		int v = F(lb_request)(skb, &p, &nat);
		if (v != LB_NONE && v != LB_OK)
			return F(lb_refuse)(skb, &p, v, REJECT_TO_STACK);
		if (nat.translated) {
			if (!F(ct_lookup)(&p))
				F(ct_create)(skb, &p, 0, &nat, prog, DIR_EGRESS);
			return F(deliver)(skb, &p, ID_HOST);
		}
	}
	struct ipcache_entry *dst = F(ipcache)(p.tuple.daddr);
	struct endpoint *src = bpf_map_lookup_elem(&MAP_ENDPOINTS, &p.tuple.saddr);
	if (!F(ct_lookup)(&p) && src) {
		if (!F(policy_allows)(src, DIR_EGRESS, dst ? dst->identity : ID_WORLD, &p))
			return F(drop_seen)(skb, &p, DROP_POLICY, prog, DIR_EGRESS, 0);
		F(ct_create)(skb, &p, CT_STACK, 0, prog, DIR_EGRESS);
	}
	if (!overlay)
		return TC_ACT_OK;
	if (!dst || !dst->tunnel_endpoint)
		return F(drop)(skb, &p, DROP_NO_ROUTE);
	struct bpf_tunnel_key key = {};
	key.remote_ipv4 = bpf_ntohl(dst->tunnel_endpoint);
	key.tunnel_id = src ? src->identity : ID_HOST;
	key.tunnel_ttl = 64;
	if (bpf_skb_set_tunnel_key(skb, &key, sizeof(key), BPF_F_ZERO_CSUM_TX) < 0)
		return F(drop)(skb, &p, DROP_NO_ROUTE);
	count(REASON_FORWARDED);
	skb->cb[CB_KIND] = TK_TUNNEL;
	skb->cb[CB_TUNNEL] = dst->tunnel_endpoint;
	return TC_ACT_OK;
}

static __noinline int F(to_overlay_body)(struct __sk_buff *skb)
{
	return F(to_remote)(skb, 1);
}

static __noinline int F(to_netdev_body)(struct __sk_buff *skb)
{
	return F(to_remote)(skb, 0);
}
