// SPDX-License-Identifier: (GPL-2.0-only OR Apache-2.0)
/*
 * Identities from the IP cache, and the policy map's verdict for an endpoint.
 */
#pragma once

#include "maps.h"

static __always_inline struct ipcache_entry *ipcache(__be32 addr)
{
	struct ipcache_key k = {.prefixlen = 32, .addr = addr};
	return bpf_map_lookup_elem(&tw_ipcache, &k);
}

static __always_inline __u32 identity_of(__be32 addr)
{
	struct ipcache_entry *e = ipcache(addr);
	return e ? e->identity : ID_WORLD;
}

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

/* Whether endpoint ep lets this packet through in direction dir, the peer being identity. */
static __always_inline int policy_allows(const struct endpoint *ep, __u8 dir, __u32 identity,
					 struct packet *p)
{
	__u32 isolated = dir == DIR_INGRESS ? EP_INGRESS_ISOLATED : EP_EGRESS_ISOLATED;
	/* The node itself is always allowed, as kubelet's probes need. */
	if (!(ep->flags & isolated) || identity == ID_HOST)
		return 1;
	__u8 proto = p->tuple.protocol;
	__be16 port = p->icmp_reply ? 0 : p->tuple.dport;
	if (proto != IPPROTO_TCP && proto != IPPROTO_UDP)
		port = 0;
	return policy_match(ep->id, dir, identity, proto, port) ||
	       policy_match(ep->id, dir, 0, proto, port) ||
	       policy_match(ep->id, dir, identity, 0, 0) || policy_match(ep->id, dir, 0, 0, 0);
}
