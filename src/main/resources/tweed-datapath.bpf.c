// SPDX-License-Identifier: (GPL-2.0-only OR Apache-2.0)
/*
 * Tweed's eBPF datapath: tc programs on a node's pod veths, its VXLAN device and eth0.
 *
 *   from_container  pod's host veth, ingress: anti-spoofing, egress policy, conntrack; delivery
 *                   to a local pod (redirect_peer), to a remote node (VXLAN: tunnel key and
 *                   redirect; BGP: FIB lookup and redirect_neigh), or to the kernel's stack
 *                   (Services, the node, the world).
 *   to_container    pod's host veth, egress: what the stack routes to a pod (from the node, the
 *                   router, a Service's DNAT): ingress policy, and the sender's egress policy when
 *                   the sender is a local pod whose destination a Service's DNAT chose.
 *   from_overlay    VXLAN device, ingress: a remote pod's packet to a local pod: ingress policy
 *                   and redirect_peer; from a node or the world, through the stack (its NAT).
 *   to_overlay      VXLAN device, egress: what the stack routes to a remote pod: tunnel key.
 *   from_netdev     eth0, ingress: a packet routed (BGP, the router) to a local pod.
 *   to_netdev       eth0, egress: what the stack sends from a local pod to another node.
 *
 * Connections are tracked here (this kernel offers no conntrack helpers to BPF). A connection
 * that passed through the kernel's stack (STACK) keeps doing so in both directions, so the
 * kernel's NAT (a Service's DNAT, masquerading) is reversed on its replies.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/in.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define AF_INET 2
#define ICMP_ECHOREPLY 0
#define ICMP_ECHO 8
#define PACKET_HOST 0 /* linux/if_packet.h */

/* linux/icmp.h pulls in the C library's socket headers, which a BPF target lacks. */
struct icmp_echo {
	__u8 type;
	__u8 code;
	__sum16 checksum;
	__be16 id;
	__be16 sequence;
};

/* Reserved identities, as Cilium numbers them; pods get 256 and up, CIDRs 1<<24 and up. */
#define ID_HOST 1
#define ID_WORLD 2
#define ID_REMOTE_NODE 6
#define ID_FIRST_CLUSTER 256

#define EP_INGRESS_ISOLATED 1
#define EP_EGRESS_ISOLATED 2

#define DIR_INGRESS 0
#define DIR_EGRESS 1

#define CT_STACK 1 /* the connection goes through the kernel's stack (its NAT, its routing) */

#define CFG_BGP 1 /* remote pods are reached by routing, not VXLAN */

/* skb->mark bits: from_container has judged and sent this packet on (encapsulated, or redirected
 * to the uplink); the egress hook it meets next on this node lets it be. */
#define MARK_FORWARDED 0x00e00000

enum drop_reason {
	REASON_FORWARDED = 0,
	DROP_POLICY = 1,
	DROP_SPOOFED = 2,
	DROP_NO_ROUTE = 3,
	DROP_INVALID = 4,
	REASON_MAX = 8,
};

struct endpoint {
	__u32 ifindex;    /* host-side veth */
	__u32 id;         /* endpoint id: the policy map's first key field */
	__u32 identity;
	__u32 flags;      /* EP_* */
	__u8 mac[6];      /* the pod's interface */
	__u8 node_mac[6]; /* the host-side veth */
};

struct ipcache_key {
	__u32 prefixlen;
	__u32 addr; /* network order */
};

struct ipcache_entry {
	__u32 identity;
	__u32 tunnel_endpoint; /* network order; 0: not behind a tunnel */
};

/* Policy: longest prefix match whose variable part is the port, so endPort ranges are prefixes. */
struct policy_key {
	__u32 prefixlen;
	__u32 endpoint;
	__u32 identity; /* 0: any peer */
	__u8 direction;
	__u8 protocol;  /* 0: any protocol */
	__be16 port;
};
#define POLICY_FULL_PREFIX (32 + 32 + 8 + 8 + 16)

struct policy_entry {
	__u32 flags;
	__u32 pad;
};

struct ct_key {
	__be32 saddr;
	__be32 daddr;
	__be16 sport;
	__be16 dport;
	__u8 protocol;
	__u8 pad[3];
};

struct ct_entry {
	__u64 created_ns;
	__u64 last_seen_ns; /* to within CT_TOUCH_NS */
	__u64 reserved;
	__u32 flags;
	__u32 pad;
};

#define CT_TOUCH_NS 1000000000ULL

struct config {
	__u32 vxlan_ifindex;
	__be32 service_net;
	__be32 service_mask;
	__u32 flags; /* CFG_* */
};

struct drop_event {
	__u32 reason;
	__u32 ifindex;
	__be32 saddr;
	__be32 daddr;
	__be16 sport;
	__be16 dport;
	__u8 protocol;
	__u8 pad[3];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __be32);
	__type(value, struct endpoint);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tw_endpoints SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 65536);
	__type(key, struct ipcache_key);
	__type(value, struct ipcache_entry);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tw_ipcache SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 262144);
	__type(key, struct policy_key);
	__type(value, struct policy_entry);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tw_policy SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct ct_key);
	__type(value, struct ct_entry);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tw_ct SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, REASON_MAX);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tw_counts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct config);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tw_config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tw_events SEC(".maps");

struct packet {
	struct ct_key tuple;
	__u8 icmp_reply; /* an echo reply: its tuple is written from the requester's side */
	__u8 tcp_syn;    /* SYN without ACK: a connection starting (again) */
};

static __always_inline void count(__u32 reason)
{
	__u64 *n = bpf_map_lookup_elem(&tw_counts, &reason);
	if (n)
		*n += 1;
}

static __always_inline int drop(struct __sk_buff *skb, struct packet *p, __u32 reason)
{
	count(reason);
	struct drop_event *e = bpf_ringbuf_reserve(&tw_events, sizeof(*e), 0);
	if (e) {
		e->reason = reason;
		e->ifindex = skb->ifindex;
		e->saddr = p->tuple.saddr;
		e->daddr = p->tuple.daddr;
		e->sport = p->tuple.sport;
		e->dport = p->tuple.dport;
		e->protocol = p->tuple.protocol;
		e->pad[0] = e->pad[1] = e->pad[2] = 0;
		bpf_ringbuf_submit(e, 0);
	}
	return TC_ACT_SHOT;
}

/* 1: an IPv4 packet, parsed; 0: not IPv4 (left alone); -1: malformed. */
static __always_inline int parse(struct __sk_buff *skb, struct packet *p)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	__builtin_memset(p, 0, sizeof(*p));
	if ((void *)(eth + 1) > end)
		return 0;
	if (eth->h_proto != bpf_htons(ETH_P_IP))
		return 0;
	struct iphdr *ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > end || ip->ihl < 5)
		return -1;
	p->tuple.saddr = ip->saddr;
	p->tuple.daddr = ip->daddr;
	p->tuple.protocol = ip->protocol;
	/* A later fragment carries no ports: it is matched by addresses and protocol only. */
	if (ip->frag_off & bpf_htons(0x1fff))
		return 1;
	void *l4 = (void *)ip + ip->ihl * 4;
	if (ip->protocol == IPPROTO_TCP || ip->protocol == IPPROTO_UDP) {
		__be16 *ports = l4;
		if ((void *)(ports + 2) > end)
			return -1;
		p->tuple.sport = ports[0];
		p->tuple.dport = ports[1];
		if (ip->protocol == IPPROTO_TCP) {
			struct tcphdr *tcp = l4;
			if ((void *)(tcp + 1) > end)
				return -1;
			p->tcp_syn = tcp->syn && !tcp->ack;
		}
	} else if (ip->protocol == IPPROTO_ICMP) {
		struct icmp_echo *icmp = l4;
		if ((void *)(icmp + 1) > end)
			return -1;
		if (icmp->type == ICMP_ECHO) {
			p->tuple.sport = icmp->id;
		} else if (icmp->type == ICMP_ECHOREPLY) {
			p->tuple.dport = icmp->id;
			p->icmp_reply = 1;
		}
	}
	return 1;
}

static __always_inline void reverse(const struct ct_key *t, struct ct_key *r)
{
	r->saddr = t->daddr;
	r->daddr = t->saddr;
	r->sport = t->dport;
	r->dport = t->sport;
	r->protocol = t->protocol;
	r->pad[0] = r->pad[1] = r->pad[2] = 0;
}

/* The tracked connection this packet belongs to, in either direction, or NULL. */
static __always_inline struct ct_entry *ct_lookup(struct packet *p)
{
	/* A SYN opens a new connection even where an old one with the same ports was tracked (its
	 * entry outlives it until evicted): it is judged by today's policy, and replaces the entry. */
	if (p->tcp_syn)
		return NULL;
	struct ct_entry *e = bpf_map_lookup_elem(&tw_ct, &p->tuple);
	if (!e) {
		struct ct_key r;
		reverse(&p->tuple, &r);
		e = bpf_map_lookup_elem(&tw_ct, &r);
	}
	if (e) {
		/* Written at most once a second: both directions of a busy connection, on different
		 * CPUs, would otherwise bounce the entry's cache line between them on every packet. */
		__u64 now = bpf_ktime_get_ns();
		if (now - e->last_seen_ns > CT_TOUCH_NS)
			e->last_seen_ns = now;
	}
	return e;
}

static __always_inline void ct_create(struct packet *p, __u32 flags)
{
	struct ct_entry e = {};
	e.created_ns = e.last_seen_ns = bpf_ktime_get_ns();
	e.flags = flags;
	bpf_map_update_elem(&tw_ct, &p->tuple, &e, BPF_ANY);
}

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

static __always_inline struct config *config(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&tw_config, &zero);
}

/* Into a local pod, past the node's stack: the pod's interface receives it directly. */
static __always_inline int deliver_local(struct __sk_buff *skb, const struct endpoint *ep)
{
	if (bpf_skb_store_bytes(skb, 0, ep->mac, 6, 0) < 0 ||
	    bpf_skb_store_bytes(skb, 6, ep->node_mac, 6, 0) < 0)
		return TC_ACT_SHOT;
	count(REASON_FORWARDED);
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
		fib.ifindex = skb->ingress_ifindex;
		fib.tot_len = skb->len - sizeof(struct ethhdr);
		if (bpf_fib_lookup(skb, &fib, sizeof(fib), BPF_FIB_LOOKUP_SKIP_NEIGH) !=
		    BPF_FIB_LKUP_RET_SUCCESS)
			return TC_ACT_OK; /* the stack knows better (or drops it, counted there) */
		struct bpf_redir_neigh nh = {.nh_family = AF_INET, .ipv4_nh = fib.ipv4_dst};
		skb->mark |= MARK_FORWARDED;
		return bpf_redirect_neigh(fib.ifindex, &nh, sizeof(nh), 0);
	}
	struct bpf_tunnel_key key = {};
	key.remote_ipv4 = bpf_ntohl(dst->tunnel_endpoint);
	key.tunnel_id = src_identity;
	key.tunnel_ttl = 64;
	if (bpf_skb_set_tunnel_key(skb, &key, sizeof(key), BPF_F_ZERO_CSUM_TX) < 0)
		return drop(skb, p, DROP_NO_ROUTE);
	skb->mark |= MARK_FORWARDED;
	return bpf_redirect(cfg->vxlan_ifindex, 0);
}

static __always_inline int to_service(struct packet *p)
{
	struct config *cfg = config();
	return cfg && cfg->service_mask && (p->tuple.daddr & cfg->service_mask) == cfg->service_net;
}

SEC("tc")
int from_container(struct __sk_buff *skb)
{
	struct packet p;
	int ok = parse(skb, &p);
	if (ok == 0)
		return TC_ACT_OK;
	if (ok < 0)
		return drop(skb, &p, DROP_INVALID);
	struct endpoint *src = bpf_map_lookup_elem(&tw_endpoints, &p.tuple.saddr);
	if (!src || src->ifindex != skb->ifindex)
		return drop(skb, &p, DROP_SPOOFED);

	struct endpoint *dst_ep = bpf_map_lookup_elem(&tw_endpoints, &p.tuple.daddr);
	struct ipcache_entry *dst = ipcache(p.tuple.daddr);
	struct ct_entry *ct = ct_lookup(&p);
	if (ct) {
		if (ct->flags & CT_STACK)
			return TC_ACT_OK;
	} else if (to_service(&p)) {
		/* Which pod a Service sends it to is the stack's choice: egress policy is checked
		 * where the packet leaves the node or meets the chosen pod, after the DNAT. */
		ct_create(&p, CT_STACK);
		return TC_ACT_OK;
	} else {
		__u32 dst_identity = dst ? dst->identity : ID_WORLD;
		if (!policy_allows(src, DIR_EGRESS, dst_identity, &p))
			return drop(skb, &p, DROP_POLICY);
		if (dst_ep && !policy_allows(dst_ep, DIR_INGRESS, src->identity, &p))
			return drop(skb, &p, DROP_POLICY);
		int direct = dst_ep || (dst && dst->tunnel_endpoint);
		ct_create(&p, direct ? 0 : CT_STACK);
		if (!direct)
			return TC_ACT_OK;
	}
	if (dst_ep)
		return deliver_local(skb, dst_ep);
	if (dst && dst->tunnel_endpoint)
		return deliver_remote(skb, &p, dst, src->identity);
	return TC_ACT_OK;
}

SEC("tc")
int to_container(struct __sk_buff *skb)
{
	struct packet p;
	int ok = parse(skb, &p);
	if (ok == 0)
		return TC_ACT_OK;
	if (ok < 0)
		return drop(skb, &p, DROP_INVALID);
	struct endpoint *dst = bpf_map_lookup_elem(&tw_endpoints, &p.tuple.daddr);
	if (!dst || ct_lookup(&p))
		return TC_ACT_OK;
	__u32 src_identity = identity_of(p.tuple.saddr);
	struct endpoint *src = bpf_map_lookup_elem(&tw_endpoints, &p.tuple.saddr);
	if (src && !policy_allows(src, DIR_EGRESS, dst->identity, &p))
		return drop(skb, &p, DROP_POLICY);
	if (!policy_allows(dst, DIR_INGRESS, src_identity, &p))
		return drop(skb, &p, DROP_POLICY);
	ct_create(&p, CT_STACK);
	count(REASON_FORWARDED);
	return TC_ACT_OK;
}

/* A packet from another node (decapsulated, or routed) to this node. */
static __always_inline int from_remote(struct __sk_buff *skb, int overlay)
{
	struct packet p;
	int ok = parse(skb, &p);
	if (ok == 0)
		return TC_ACT_OK;
	if (ok < 0)
		return drop(skb, &p, DROP_INVALID);
	struct endpoint *dst = bpf_map_lookup_elem(&tw_endpoints, &p.tuple.daddr);
	struct ct_entry *ct = ct_lookup(&p);
	if (!dst || (ct && (ct->flags & CT_STACK))) {
		/* For the node itself, or a reply the stack must un-NAT: the inner frame was addressed
		 * to the sender's idea of a next hop, so the stack is told it is for this host. */
		if (overlay)
			bpf_skb_change_type(skb, PACKET_HOST);
		return TC_ACT_OK;
	}
	if (!ct) {
		__u32 src_identity = identity_of(p.tuple.saddr);
		if (src_identity < ID_FIRST_CLUSTER) {
			/* From a node or the world: likely NATed by the kernel somewhere (a NodePort's
			 * masquerade), so the kernel's conntrack must see both directions. The stack
			 * routes it to the pod, where to_container applies the policy. */
			if (overlay)
				bpf_skb_change_type(skb, PACKET_HOST);
			return TC_ACT_OK;
		}
		if (!policy_allows(dst, DIR_INGRESS, src_identity, &p))
			return drop(skb, &p, DROP_POLICY);
		ct_create(&p, 0);
	}
	return deliver_local(skb, dst);
}

SEC("tc")
int from_overlay(struct __sk_buff *skb)
{
	return from_remote(skb, 1);
}

SEC("tc")
int from_netdev(struct __sk_buff *skb)
{
	return from_remote(skb, 0);
}

/* A packet leaving toward another node that the stack routed (not from_container's direct path). */
static __always_inline int to_remote(struct __sk_buff *skb, int overlay)
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
	struct ipcache_entry *dst = ipcache(p.tuple.daddr);
	struct endpoint *src = bpf_map_lookup_elem(&tw_endpoints, &p.tuple.saddr);
	if (!ct_lookup(&p) && src) {
		if (!policy_allows(src, DIR_EGRESS, dst ? dst->identity : ID_WORLD, &p))
			return drop(skb, &p, DROP_POLICY);
		ct_create(&p, CT_STACK);
	}
	if (!overlay)
		return TC_ACT_OK;
	if (!dst || !dst->tunnel_endpoint)
		return drop(skb, &p, DROP_NO_ROUTE);
	struct bpf_tunnel_key key = {};
	key.remote_ipv4 = bpf_ntohl(dst->tunnel_endpoint);
	key.tunnel_id = src ? src->identity : ID_HOST;
	key.tunnel_ttl = 64;
	if (bpf_skb_set_tunnel_key(skb, &key, sizeof(key), BPF_F_ZERO_CSUM_TX) < 0)
		return drop(skb, &p, DROP_NO_ROUTE);
	count(REASON_FORWARDED);
	return TC_ACT_OK;
}

SEC("tc")
int to_overlay(struct __sk_buff *skb)
{
	return to_remote(skb, 1);
}

SEC("tc")
int to_netdev(struct __sk_buff *skb)
{
	return to_remote(skb, 0);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
