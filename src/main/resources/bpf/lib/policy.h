// SPDX-License-Identifier: (GPL-2.0-only OR Apache-2.0)
/*
 * What both families share once a packet is judged: the policy map's verdict for an endpoint
 * (identities are per label set, so both addresses of a pod carry one), and delivery to a local
 * pod.
 */
#pragma once

#include "events.h"

static __always_inline int policy_match(__u32 ep, __u8 dir, __u32 identity, __u8 proto,
					__be16 port)
{
	struct policy_key k = {
		.prefixlen = POLICY_FULL_PREFIX,
		.endpoint = ep,
		.identity = identity,
		.direction = dir,
		.protocol = proto,
		.port = port,
	};
	return bpf_map_lookup_elem(&tw_policy, &k) != NULL;
}

/* Whether endpoint ep lets a packet of proto to port (0: none) through in direction dir, the
 * peer being identity. */
static __always_inline int policy_allows_l4(const struct endpoint *ep, __u8 dir, __u32 identity,
					    __u8 proto, __be16 port)
{
	__u32 isolated = dir == DIR_INGRESS ? EP_INGRESS_ISOLATED : EP_EGRESS_ISOLATED;
	/* The node itself is always allowed, as kubelet's probes need. */
	if (!(ep->flags & isolated) || identity == ID_HOST)
		return 1;
	if (proto != IPPROTO_TCP && proto != IPPROTO_UDP)
		port = 0;
	return policy_match(ep->id, dir, identity, proto, port) ||
	       policy_match(ep->id, dir, 0, proto, port) ||
	       policy_match(ep->id, dir, identity, 0, 0) || policy_match(ep->id, dir, 0, 0, 0);
}

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
