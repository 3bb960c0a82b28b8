// SPDX-License-Identifier: (GPL-2.0-only OR Apache-2.0)
/*
 * (Per family, see family.h.) Where a judged packet goes: a local pod, a remote node (VXLAN or
 * routed), or the stack.
 */

/* To a pod on another node: VXLAN with the sender's identity as VNI, or routed (BGP). The
 * underlay is IPv4 for both families: an IPv6 pod's packet rides an IPv4 tunnel. */
static __always_inline int F(deliver_remote)(struct __sk_buff *skb, PACKET *p,
					     const struct ipcache_entry *dst, __u32 src_identity)
{
	struct config *cfg = config();
	if (!cfg)
		return F(drop)(skb, p, DROP_NO_ROUTE);
	count(REASON_FORWARDED);
	if (cfg->flags & CFG_BGP) {
		struct bpf_fib_lookup fib = {};
		F(fib_init)(&fib, p);
		fib.ifindex = skb->ingress_ifindex ? skb->ingress_ifindex : skb->ifindex;
		fib.tot_len = skb->len - sizeof(struct ethhdr);
		if (bpf_fib_lookup(skb, &fib, sizeof(fib), BPF_FIB_LOOKUP_SKIP_NEIGH) !=
		    BPF_FIB_LKUP_RET_SUCCESS)
			return TC_ACT_OK; /* the stack knows better (or drops it, counted there) */
		struct bpf_redir_neigh nh = {};
		F(neigh_of)(&nh, &fib);
		skb->mark |= MARK_FORWARDED;
		skb->cb[CB_KIND] = TK_REDIRECT_NEIGH;
		skb->cb[CB_TARGET] = fib.ifindex;
		return bpf_redirect_neigh(fib.ifindex, &nh, sizeof(nh), 0);
	}
	struct bpf_tunnel_key key = {};
	key.remote_ipv4 = bpf_ntohl(dst->tunnel_endpoint);
	key.tunnel_id = src_identity;
	key.tunnel_ttl = 64;
	if (bpf_skb_set_tunnel_key(skb, &key, sizeof(key), BPF_F_ZERO_CSUM_TX) < 0)
		return F(drop)(skb, p, DROP_NO_ROUTE);
	skb->mark |= MARK_FORWARDED;
	skb->cb[CB_KIND] = TK_REDIRECT;
	skb->cb[CB_TARGET] = cfg->vxlan_ifindex;
	skb->cb[CB_TUNNEL] = dst->tunnel_endpoint;
	return bpf_redirect(cfg->vxlan_ifindex, 0);
}

/* To a destination that is neither a pod nor behind a tunnel (the world, a node), past the stack:
 * a translated reply's source may be this node's own address, which the stack would refuse. */
static __always_inline int F(deliver_routed)(struct __sk_buff *skb, PACKET *p)
{
	struct bpf_fib_lookup fib = {};
	F(fib_init)(&fib, p);
	fib.ifindex = skb->ingress_ifindex ? skb->ingress_ifindex : skb->ifindex;
	fib.tot_len = skb->len - sizeof(struct ethhdr);
	int rc = bpf_fib_lookup(skb, &fib, sizeof(fib), BPF_FIB_LOOKUP_SKIP_NEIGH);
	if (rc == BPF_FIB_LKUP_RET_NOT_FWDED)
		return TC_ACT_OK; /* for this node: its stack delivers it */
	if (rc != BPF_FIB_LKUP_RET_SUCCESS)
		return F(drop)(skb, p, DROP_NO_ROUTE);
	struct bpf_redir_neigh nh = {};
	F(neigh_of)(&nh, &fib);
	count(REASON_FORWARDED);
	skb->mark |= MARK_FORWARDED;
	skb->cb[CB_KIND] = TK_REDIRECT_NEIGH;
	skb->cb[CB_TARGET] = fib.ifindex;
	return bpf_redirect_neigh(fib.ifindex, &nh, sizeof(nh), 0);
}

/* Where a packet goes after a Service's translation: a local pod, a remote pod, elsewhere. */
static __always_inline int F(deliver)(struct __sk_buff *skb, PACKET *p, __u32 src_identity)
{
	struct endpoint *ep = bpf_map_lookup_elem(&MAP_ENDPOINTS, &p->tuple.daddr);
	if (ep)
		return deliver_local(skb, ep);
	struct ipcache_entry *dst = F(ipcache)(p->tuple.daddr);
	if (dst && dst->tunnel_endpoint)
		return F(deliver_remote)(skb, p, dst, src_identity);
	return F(deliver_routed)(skb, p);
}
