// SPDX-License-Identifier: (GPL-2.0-only OR Apache-2.0)
/*
 * (Per family, see family.h.) Identities from the family's IP cache, and a packet's policy verdict.
 */
#include "policy.h"

static __always_inline struct ipcache_entry *F(ipcache)(ADDR addr)
{
	IPCACHE_KEY k = {.prefixlen = ADDR_PREFIX, .addr = addr};
	return bpf_map_lookup_elem(&MAP_IPCACHE, &k);
}

static __always_inline __u32 F(identity_of)(ADDR addr)
{
	struct ipcache_entry *e = F(ipcache)(addr);
	return e ? e->identity : ID_WORLD;
}

/* Whether endpoint ep lets this packet through in direction dir, the peer being identity. */
static __always_inline int F(policy_allows)(const struct endpoint *ep, __u8 dir, __u32 identity,
					    PACKET *p)
{
	return policy_allows_l4(ep, dir, identity, p->tuple.protocol,
				p->icmp_reply ? 0 : p->tuple.dport);
}
