// SPDX-License-Identifier: (GPL-2.0-only OR Apache-2.0)
/*
 * Where a judged packet goes: a local pod, a remote node (VXLAN or routed), or the stack.
 */
#pragma once

#include "events.h"
#include "conntrack.h"
#include "policy.h"
#include "config.h"

/* Into a local pod, past the node's stack: the pod's interface receives it directly. From an
 * egress hook (the node's own packet) it goes out of the pod's host veth instead, marked so that
 * to_container lets it be. */
static __always_inline int deliver_local(struct __sk_buff *skb, const struct endpoint *ep)
{
	if (bpf_skb_store_bytes(skb, 0, ep->mac, 6, 0) < 0 ||
	    bpf_skb_store_bytes(skb, 6, ep->node_mac, 6, 0) < 0)
		return TC_ACT_SHOT;
	count(REASON_FORWARDED);
	skb->cb[CB_TARGET] = ep->ifindex;
	if (!skb->ingress_ifindex) {
		skb->cb[CB_KIND] = TK_REDIRECT;
		skb->mark |= MARK_FORWARDED;
		return bpf_redirect(ep->ifindex, 0);
	}
	skb->cb[CB_KIND] = TK_REDIRECT_PEER;
	return bpf_redirect_peer(ep->ifindex, 0);
}

/* To a pod on another node: VXLAN with the sender's identity as VNI, or routed (BGP). */
static __always_inline int deliver_remote(struct __sk_buff *skb, struct packet *p,
					  const struct ipcache_entry *dst, __u32 src_identity)
{
	struct config *cfg = config();
	if (!cfg)
		return drop(skb, p, DROP_NO_ROUTE);
	count(REASON_FORWARDED);
	if (cfg->flags & CFG_BGP) {
		struct bpf_fib_lookup fib = {};
		fib.family = AF_INET;
		fib.ipv4_src = p->tuple.saddr;
		fib.ipv4_dst = p->tuple.daddr;
		fib.ifindex = skb->ingress_ifindex ? skb->ingress_ifindex : skb->ifindex;
		fib.tot_len = skb->len - sizeof(struct ethhdr);
		if (bpf_fib_lookup(skb, &fib, sizeof(fib), BPF_FIB_LOOKUP_SKIP_NEIGH) !=
		    BPF_FIB_LKUP_RET_SUCCESS)
			return TC_ACT_OK; /* the stack knows better (or drops it, counted there) */
		struct bpf_redir_neigh nh = {.nh_family = AF_INET, .ipv4_nh = fib.ipv4_dst};
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
		return drop(skb, p, DROP_NO_ROUTE);
	skb->mark |= MARK_FORWARDED;
	skb->cb[CB_KIND] = TK_REDIRECT;
	skb->cb[CB_TARGET] = cfg->vxlan_ifindex;
	skb->cb[CB_TUNNEL] = dst->tunnel_endpoint;
	return bpf_redirect(cfg->vxlan_ifindex, 0);
}

/* To a destination that is neither a pod nor behind a tunnel (the world, a node), past the stack:
 * a translated reply's source may be this node's own address, which the stack would refuse. */
static __always_inline int deliver_routed(struct __sk_buff *skb, struct packet *p)
{
	struct bpf_fib_lookup fib = {};
	fib.family = AF_INET;
	fib.ipv4_src = p->tuple.saddr;
	fib.ipv4_dst = p->tuple.daddr;
	fib.ifindex = skb->ingress_ifindex ? skb->ingress_ifindex : skb->ifindex;
	fib.tot_len = skb->len - sizeof(struct ethhdr);
	int rc = bpf_fib_lookup(skb, &fib, sizeof(fib), BPF_FIB_LOOKUP_SKIP_NEIGH);
	if (rc == BPF_FIB_LKUP_RET_NOT_FWDED)
		return TC_ACT_OK; /* for this node: its stack delivers it */
	if (rc != BPF_FIB_LKUP_RET_SUCCESS)
		return drop(skb, p, DROP_NO_ROUTE);
	struct bpf_redir_neigh nh = {.nh_family = AF_INET, .ipv4_nh = fib.ipv4_dst};
	count(REASON_FORWARDED);
	skb->mark |= MARK_FORWARDED;
	skb->cb[CB_KIND] = TK_REDIRECT_NEIGH;
	skb->cb[CB_TARGET] = fib.ifindex;
	return bpf_redirect_neigh(fib.ifindex, &nh, sizeof(nh), 0);
}

/* Where a packet goes after a Service's translation: a local pod, a remote pod, elsewhere. */
static __always_inline int deliver(struct __sk_buff *skb, struct packet *p, __u32 src_identity)
{
	struct endpoint *ep = bpf_map_lookup_elem(&tw_endpoints, &p->tuple.daddr);
	if (ep)
		return deliver_local(skb, ep);
	struct ipcache_entry *dst = ipcache(p->tuple.daddr);
	if (dst && dst->tunnel_endpoint)
		return deliver_remote(skb, p, dst, src_identity);
	return deliver_routed(skb, p);
}
