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
 * Services are load-balanced here, as kube-proxy would do it but without a rule: a packet to a
 * Service's frontend (its ClusterIP, a node port on this node's address, an external or
 * load-balancer IP) gets a backend from the service and backend maps (at random, or the one the
 * client's affinity entry names), is translated (DNAT; SNAT to the node's address where kube-proxy
 * masquerades: Cluster-policy traffic from outside, and a pod reaching itself), and goes on as the
 * backend's own traffic, policy included. Replies are translated back from the conntrack entry.
 * A frontend without backends answers with ICMP port unreachable (kube-proxy's REJECT), or drops
 * under Local policy when the backends are on other nodes.
 *
 * Connections are tracked here (this kernel offers no conntrack helpers to BPF). A connection
 * that passed through the kernel's stack (STACK) keeps doing so in both directions.
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

#define CT_STACK 1  /* the connection goes through the kernel's stack (its routing) */
#define CT_SVC 2    /* keyed by a request to a frontend: the translation its packets get */
#define CT_REVNAT 4 /* keyed by a translated request: its replies get the frontend back */
#define CT_CLOSING 8 /* a FIN or RST was seen: the agent removes the entry once it goes quiet */

#define CFG_BGP 1      /* remote pods are reached by routing, not VXLAN */
#define CFG_NO_FLOWS 2 /* report no flow events (observation off) */

/* skb->mark bits: from_container has judged and sent this packet on (encapsulated, or redirected
 * to the uplink); the egress hook it meets next on this node lets it be. */
#define MARK_FORWARDED 0x00e00000

enum drop_reason {
	REASON_FORWARDED = 0,
	DROP_POLICY = 1,
	DROP_SPOOFED = 2,
	DROP_NO_ROUTE = 3,
	DROP_INVALID = 4,
	DROP_NO_SERVICE = 5,   /* a service address without that port, or no local backend (Local) */
	REJECT_NO_BACKEND = 6, /* answered with ICMP port unreachable */
	DROP_SOURCE_RANGE = 7, /* outside a load balancer's source ranges */
	EVENTS_LOST = 8,       /* not a drop: flow events the ring buffer had no room for */
	REASON_MAX = 16,
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
	__u32 flags;        /* CT_* */
	__u32 backend;      /* CT_SVC: the backend chosen */
	__be32 nat_addr;    /* CT_SVC: the backend's address; CT_REVNAT: the frontend's */
	__be32 orig_addr;   /* CT_SVC: the source after SNAT; CT_REVNAT: the client's address */
	__be16 nat_port;
	__be16 orig_port;
	__u32 pad;
};

#define CT_TOUCH_NS 1000000000ULL

struct config {
	__u32 vxlan_ifindex;
	__be32 service_net;
	__be32 service_mask;
	__u32 flags;    /* CFG_* */
	__be32 node_ip; /* the source of masqueraded Service traffic */
	__u32 pad;
};

/* Services. A frontend names a service (one port of a Kubernetes Service) and a scope: traffic
 * from inside (ClusterIP) and from outside (node port, external and load-balancer IPs) may use
 * different backends (internal/externalTrafficPolicy: Local). Slot 0 of a service's scope holds
 * its backend count, slots 1..count the backend ids, so a backend joining or leaving is a few
 * writes, whatever the number of services. */
#define FE_EXTERNAL 1      /* the external scope's backends */
#define FE_MASQUERADE 2    /* SNAT to the node's address (Cluster policy, from outside) */
#define FE_SOURCE_RANGES 4 /* only sources in tw_lb_source_ranges */

#define SVC_DROP_EMPTY 1 /* no backend in scope, but some on other nodes: drop, do not reject */

struct lb_frontend_key {
	__be32 addr;
	__be16 port;
	__u8 protocol;
	__u8 pad;
};

struct lb_frontend {
	__u32 service;
	__u32 flags; /* FE_* */
};

struct lb_service_key {
	__u32 service;
	__u16 slot;
	__u8 scope; /* 0: internal, 1: external */
	__u8 pad;
};

struct lb_service {
	__u32 count_or_backend; /* slot 0: the number of backends; else a backend id */
	__u32 affinity_seconds; /* slot 0: ClientIP affinity's timeout, 0 without affinity */
	__u32 flags;            /* slot 0: SVC_* */
};

struct lb_backend {
	__be32 addr;
	__be16 port;
	__u8 protocol;
	__u8 flags;
	__u32 service; /* a backend id belongs to one service: an affinity entry is checked by it */
};

struct lb_affinity_key {
	__be32 client;
	__u32 service;
};

struct lb_affinity {
	__u64 last_used_ns;
	__u32 backend;
	__u32 pad;
};

struct lb_source_key {
	__u32 prefixlen; /* 32 + the range's */
	__u32 service;
	__be32 addr;
};

/* What the programs tell the agent through tw_events, one event each: a connection they let
 * through (the packet that started it), or a packet they dropped or refused. */
enum flow_verdict {
	VERDICT_FORWARDED = 1,
	VERDICT_DROPPED = 2,
	VERDICT_REJECTED = 3,
};

#define DIR_UNKNOWN 2

enum program_id {
	PROG_FROM_CONTAINER = 1,
	PROG_TO_CONTAINER = 2,
	PROG_FROM_OVERLAY = 3,
	PROG_TO_OVERLAY = 4,
	PROG_FROM_NETDEV = 5,
	PROG_TO_NETDEV = 6,
};

struct flow_event {
	__u64 time_ns;  /* bpf_ktime_get_ns: CLOCK_MONOTONIC */
	__u32 verdict;  /* VERDICT_* */
	__u32 reason;   /* enum drop_reason; 0 when forwarded */
	__u32 ifindex;
	__u8 program;   /* PROG_* */
	__u8 direction; /* the local endpoint's: DIR_INGRESS, DIR_EGRESS, DIR_UNKNOWN */
	__u8 protocol;
	__u8 translated; /* a Service's traffic: frontend and client below */
	__be32 saddr;    /* as judged: after a Service's translation */
	__be32 daddr;
	__be16 sport;
	__be16 dport;
	__be32 frontend_addr;
	__be32 client_addr;
	__be16 frontend_port;
	__be16 client_port;
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
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, struct lb_frontend_key);
	__type(value, struct lb_frontend);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tw_lb_frontends SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 262144);
	__type(key, struct lb_service_key);
	__type(value, struct lb_service);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tw_lb_services SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 262144);
	__type(key, __u32);
	__type(value, struct lb_backend);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tw_lb_backends SEC(".maps");

/* Bounded: the least recently used client's affinity goes first when it is full. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct lb_affinity_key);
	__type(value, struct lb_affinity);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tw_lb_affinity SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 16384);
	__type(key, struct lb_source_key);
	__type(value, __u32);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tw_lb_source_ranges SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tw_events SEC(".maps");

/* Tracing (tweed trace --verify): while tw_trace_on[0] is set, a program whose packet's tuple is
 * in tw_trace (exactly, or with its source or destination port 0) reports what it did with it to tw_trace_events, one event per program run: the
 * tuple before and after, the action and its target. Off, it costs one array read per packet. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tw_trace_on SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, struct ct_key);
	__type(value, __u32); /* the trace's id */
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tw_trace SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 * 1024);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tw_trace_events SEC(".maps");

/* What a program did, noted in skb->cb (tc's scratch space) by the helpers that decide it. */
#define CB_KIND 0   /* TK_* */
#define CB_TARGET 1 /* the redirect's ifindex */
#define CB_REASON 2 /* enum drop_reason */
#define CB_TUNNEL 3 /* the tunnel key's remote end */

enum trace_kind {
	TK_NONE = 0,
	TK_REDIRECT_PEER = 1,
	TK_REDIRECT = 2,
	TK_REDIRECT_NEIGH = 3,
	TK_REJECT = 4,
	TK_TUNNEL = 5, /* passed, with a tunnel key */
};

struct trace_event {
	__u64 time_ns;
	__u32 trace_id;
	__u32 ifindex;
	__s32 rc;      /* the program's return: TC_ACT_* */
	__u32 kind;    /* TK_* */
	__u32 target;  /* CB_TARGET */
	__u32 reason;  /* CB_REASON */
	__be32 tunnel; /* CB_TUNNEL */
	__u32 mark;    /* skb->mark as the program leaves it */
	__u32 program; /* PROG_* */
	__u32 tcp_flags; /* as received: tells a connection's first packet (SYN) from the rest */
	struct ct_key in;
	struct ct_key out;
};

struct packet {
	struct ct_key tuple;
	__u8 icmp_reply; /* an echo reply: its tuple is written from the requester's side */
	__u8 tcp_syn;    /* SYN without ACK: a connection starting (again) */
	__u8 tcp_close;  /* FIN or RST: a connection ending */
	__u8 ihl;        /* IP header length in 32-bit words */
	__u8 fragment;   /* a later fragment: no ports */
};

/* The translation a Service gave a packet, for the conntrack entry of its new connection. */
struct nat {
	__u8 translated;
	__u8 pad[3];
	__be32 frontend_addr;
	__be16 frontend_port;
	__be16 client_port;
	__be32 client_addr;
};

static __always_inline void count(__u32 reason)
{
	__u64 *n = bpf_map_lookup_elem(&tw_counts, &reason);
	if (n)
		*n += 1;
}

/* One event to the agent. When the ring buffer is full the event is lost, never the packet. */
static __always_inline void emit(struct __sk_buff *skb, struct packet *p, __u32 verdict,
				 __u32 reason, __u8 program, __u8 direction, const struct nat *nat)
{
	__u32 zero = 0;
	struct config *cfg = bpf_map_lookup_elem(&tw_config, &zero);
	if (cfg && (cfg->flags & CFG_NO_FLOWS))
		return;
	struct flow_event *e = bpf_ringbuf_reserve(&tw_events, sizeof(*e), 0);
	if (!e) {
		count(EVENTS_LOST);
		return;
	}
	e->time_ns = bpf_ktime_get_ns();
	e->verdict = verdict;
	e->reason = reason;
	e->ifindex = skb->ifindex;
	e->program = program;
	e->direction = direction;
	e->protocol = p->tuple.protocol;
	e->translated = nat && nat->translated;
	e->saddr = p->tuple.saddr;
	e->daddr = p->tuple.daddr;
	e->sport = p->tuple.sport;
	e->dport = p->tuple.dport;
	e->frontend_addr = e->translated ? nat->frontend_addr : 0;
	e->client_addr = e->translated ? nat->client_addr : 0;
	e->frontend_port = e->translated ? nat->frontend_port : 0;
	e->client_port = e->translated ? nat->client_port : 0;
	bpf_ringbuf_submit(e, 0);
}

static __always_inline int drop_seen(struct __sk_buff *skb, struct packet *p, __u32 reason,
				     __u8 program, __u8 direction, const struct nat *nat)
{
	skb->cb[CB_REASON] = reason;
	count(reason);
	emit(skb, p, VERDICT_DROPPED, reason, program, direction, nat);
	return TC_ACT_SHOT;
}

static __always_inline int drop(struct __sk_buff *skb, struct packet *p, __u32 reason)
{
	return drop_seen(skb, p, reason, 0, DIR_UNKNOWN, 0);
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
	p->ihl = ip->ihl;
	/* A later fragment carries no ports: it is matched by addresses and protocol only. */
	if (ip->frag_off & bpf_htons(0x1fff)) {
		p->fragment = 1;
		return 1;
	}
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
			p->tcp_close = tcp->fin || tcp->rst;
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

/* A tracked connection's packet: the connection is alive now, and ending once a FIN or RST is
 * seen (a SYN that reuses the entry starts it again). The agent's collector removes what ended or
 * went quiet, so that the map's LRU eviction never has to make room by dropping a live one. */
static __always_inline void ct_touch(struct ct_entry *e, const struct packet *p)
{
	/* Written at most once a second: both directions of a busy connection, on different CPUs,
	 * would otherwise bounce the entry's cache line between them on every packet. */
	__u64 now = bpf_ktime_get_ns();
	if (now - e->last_seen_ns > CT_TOUCH_NS)
		e->last_seen_ns = now;
	if (p->tcp_close && !(e->flags & CT_CLOSING))
		e->flags |= CT_CLOSING;
	else if (p->tcp_syn && (e->flags & CT_CLOSING))
		e->flags &= ~CT_CLOSING;
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
	if (e)
		ct_touch(e, p);
	return e;
}

/* A new connection's entry; a translated one also records how to translate its replies back. */
static __always_inline void ct_create(struct __sk_buff *skb, struct packet *p, __u32 flags,
				      const struct nat *nat, __u8 program, __u8 direction)
{
	emit(skb, p, VERDICT_FORWARDED, 0, program, direction, nat);
	struct ct_entry e = {};
	e.created_ns = e.last_seen_ns = bpf_ktime_get_ns();
	e.flags = flags;
	if (nat && nat->translated) {
		e.flags |= CT_REVNAT;
		e.nat_addr = nat->frontend_addr;
		e.nat_port = nat->frontend_port;
		e.orig_addr = nat->client_addr;
		e.orig_port = nat->client_port;
	}
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

static __always_inline int to_service(struct packet *p)
{
	struct config *cfg = config();
	return cfg && cfg->service_mask && (p->tuple.daddr & cfg->service_mask) == cfg->service_net;
}

/* Rewrites the packet's source (dst_side 0) or destination address and port, checksums included
 * (a pod's or the node's own packet carries a partial checksum: the pseudo-header's part of it is
 * what changes). */
static __always_inline int nat_rewrite(struct __sk_buff *skb, struct packet *p, int dst_side,
				       __be32 addr, __be16 port)
{
	__be32 old_addr = dst_side ? p->tuple.daddr : p->tuple.saddr;
	__be16 old_port = dst_side ? p->tuple.dport : p->tuple.sport;
	__u32 l4 = ETH_HLEN + p->ihl * 4;
	__u32 csum = l4 + (p->tuple.protocol == IPPROTO_TCP ? 16 : 6);
	__u64 mangled = p->tuple.protocol == IPPROTO_UDP ? BPF_F_MARK_MANGLED_0 : 0;
	if (old_addr != addr) {
		if (bpf_l4_csum_replace(skb, csum, old_addr, addr, BPF_F_PSEUDO_HDR | mangled | 4) ||
		    bpf_l3_csum_replace(skb, ETH_HLEN + 10, old_addr, addr, 4) ||
		    bpf_skb_store_bytes(skb, ETH_HLEN + (dst_side ? 16 : 12), &addr, 4, 0))
			return -1;
	}
	if (old_port != port) {
		if (bpf_l4_csum_replace(skb, csum, old_port, port, mangled | 2) ||
		    bpf_skb_store_bytes(skb, l4 + (dst_side ? 2 : 0), &port, 2, 0))
			return -1;
	}
	if (dst_side) {
		p->tuple.daddr = addr;
		p->tuple.dport = port;
	} else {
		p->tuple.saddr = addr;
		p->tuple.sport = port;
	}
	return 0;
}

static __always_inline __sum16 csum_fold(__s64 sum)
{
	__u32 s = (__u32)sum;
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (__sum16)~s;
}

struct icmp_unreach_frame {
	struct ethhdr eth;
	struct iphdr ip;
	__u8 type;
	__u8 code;
	__sum16 checksum;
	__u32 unused;
	__u8 quoted[28]; /* the offending packet's IP header and first 8 bytes */
} __attribute__((packed));

enum reject_to {
	REJECT_TO_PEER,   /* a pod's host veth: into the pod */
	REJECT_BACK_OUT,  /* eth0 ingress: out again, to the sender */
	REJECT_TO_STACK,  /* eth0 egress, the node's own packet: into the node */
};

/* kube-proxy's REJECT for a Service without endpoints: the packet becomes an ICMP port
 * unreachable from the frontend, sent back where it came from (a TCP client's connect fails at
 * once with "connection refused"). */
static __always_inline int reject(struct __sk_buff *skb, struct packet *p, enum reject_to to)
{
	if (to == REJECT_TO_PEER)
		emit(skb, p, VERDICT_REJECTED, REJECT_NO_BACKEND, PROG_FROM_CONTAINER, DIR_EGRESS, 0);
	else if (to == REJECT_BACK_OUT)
		emit(skb, p, VERDICT_REJECTED, REJECT_NO_BACKEND, PROG_FROM_NETDEV, DIR_INGRESS, 0);
	else
		emit(skb, p, VERDICT_REJECTED, REJECT_NO_BACKEND, PROG_TO_NETDEV, DIR_EGRESS, 0);
	struct icmp_unreach_frame f;
	__builtin_memset(&f, 0, sizeof(f));
	if (p->ihl != 5 || bpf_skb_load_bytes(skb, 0, &f.eth, sizeof(f.eth)) ||
	    bpf_skb_load_bytes(skb, ETH_HLEN, f.quoted, sizeof(f.quoted)))
		return drop(skb, p, DROP_INVALID);
	__u8 mac[6];
	__builtin_memcpy(mac, f.eth.h_dest, 6);
	__builtin_memcpy(f.eth.h_dest, f.eth.h_source, 6);
	__builtin_memcpy(f.eth.h_source, mac, 6);
	f.ip.version = 4;
	f.ip.ihl = 5;
	f.ip.ttl = 64;
	f.ip.protocol = IPPROTO_ICMP;
	f.ip.tot_len = bpf_htons(sizeof(f) - ETH_HLEN);
	f.ip.saddr = p->tuple.daddr;
	f.ip.daddr = p->tuple.saddr;
	f.ip.check = csum_fold(bpf_csum_diff(0, 0, (void *)&f + ETH_HLEN, sizeof(f.ip), 0));
	f.type = 3; /* destination unreachable */
	f.code = 3; /* port unreachable */
	f.checksum = csum_fold(bpf_csum_diff(0, 0, (void *)&f + ETH_HLEN + sizeof(f.ip), 36, 0));
	if (bpf_skb_change_tail(skb, sizeof(f), 0) ||
	    bpf_skb_store_bytes(skb, 0, &f, sizeof(f), BPF_F_INVALIDATE_HASH))
		return drop(skb, p, DROP_INVALID);
	count(REJECT_NO_BACKEND);
	skb->cb[CB_KIND] = TK_REJECT;
	skb->cb[CB_REASON] = REJECT_NO_BACKEND;
	skb->cb[CB_TARGET] = skb->ifindex;
	if (to == REJECT_TO_PEER)
		return bpf_redirect_peer(skb->ifindex, 0);
	if (to == REJECT_TO_STACK)
		return bpf_redirect(skb->ifindex, BPF_F_INGRESS);
	skb->mark |= MARK_FORWARDED;
	return bpf_redirect(skb->ifindex, 0);
}

/* Rewrites 4 (or 2) bytes inside an ICMP message, keeping its checksum (no pseudo-header). */
static __always_inline int icmp_rewrite(struct __sk_buff *skb, __u32 csum, __u32 off, __u32 from,
					__u32 to, __u32 size)
{
	if (from == to)
		return 0;
	if (bpf_l4_csum_replace(skb, csum, from, to, size) ||
	    bpf_skb_store_bytes(skb, off, &to, size, 0))
		return -1;
	return 0;
}

/* An address in the outer IP header: the header's checksum follows. */
static __always_inline int ip_rewrite(struct __sk_buff *skb, __u32 off, __be32 from, __be32 to)
{
	if (from == to)
		return 0;
	if (bpf_l3_csum_replace(skb, ETH_HLEN + 10, from, to, 4) ||
	    bpf_skb_store_bytes(skb, off, &to, 4, 0))
		return -1;
	return 0;
}

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

/* A packet from another node (decapsulated, or routed) to this node. */
static __always_inline int from_remote(struct __sk_buff *skb, int overlay)
{
	__u8 prog = overlay ? PROG_FROM_OVERLAY : PROG_FROM_NETDEV;
	struct packet p;
	int ok = parse(skb, &p);
	if (ok == 0)
		return TC_ACT_OK;
	if (ok < 0)
		return drop(skb, &p, DROP_INVALID);
	__u32 src_identity = identity_of(p.tuple.saddr);
	int rev = lb_reply(skb, &p);
	if (rev < 0)
		return drop(skb, &p, DROP_INVALID);
	if (rev)
		return deliver(skb, &p, ID_HOST);
	struct nat nat = {};
	int v = lb_request(skb, &p, &nat);
	if (v != LB_NONE && v != LB_OK)
		return lb_refuse(skb, &p, v, REJECT_BACK_OUT);
	struct endpoint *dst = bpf_map_lookup_elem(&tw_endpoints, &p.tuple.daddr);
	struct ct_entry *ct = ct_lookup(&p);
	if (nat.translated) {
		/* From outside to a node port, an external or a load-balancer IP: policy is the
		 * backend's node's, judged on the client's identity where the backend is local. */
		if (!ct) {
			if (dst && !policy_allows(dst, DIR_INGRESS, src_identity, &p))
				return drop_seen(skb, &p, DROP_POLICY, prog, DIR_INGRESS, &nat);
			ct_create(skb, &p, 0, &nat, prog, DIR_INGRESS);
		}
		return deliver(skb, &p, ID_HOST);
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
		if (!policy_allows(dst, DIR_INGRESS, src_identity, &p))
			return drop_seen(skb, &p, DROP_POLICY, prog, DIR_INGRESS, 0);
		ct_create(skb, &p, 0, 0, prog, DIR_INGRESS);
	}
	return deliver_local(skb, dst);
}

static __always_inline int from_overlay_body(struct __sk_buff *skb)
{
	return from_remote(skb, 1);
}

static __always_inline int from_netdev_body(struct __sk_buff *skb)
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
	__u8 prog = overlay ? PROG_TO_OVERLAY : PROG_TO_NETDEV;
	struct packet p;
	int ok = parse(skb, &p);
	if (ok == 0)
		return TC_ACT_OK;
	if (ok < 0)
		return drop(skb, &p, DROP_INVALID);
	if (!overlay) {
		/* The node's own connection to a Service (its default route leads out here): the
		 * backend replaces the frontend, and the packet is sent on to it afresh. */
		struct nat nat = {};
		int v = lb_request(skb, &p, &nat);
		if (v != LB_NONE && v != LB_OK)
			return lb_refuse(skb, &p, v, REJECT_TO_STACK);
		if (nat.translated) {
			if (!ct_lookup(&p))
				ct_create(skb, &p, 0, &nat, prog, DIR_EGRESS);
			return deliver(skb, &p, ID_HOST);
		}
	}
	struct ipcache_entry *dst = ipcache(p.tuple.daddr);
	struct endpoint *src = bpf_map_lookup_elem(&tw_endpoints, &p.tuple.saddr);
	if (!ct_lookup(&p) && src) {
		if (!policy_allows(src, DIR_EGRESS, dst ? dst->identity : ID_WORLD, &p))
			return drop_seen(skb, &p, DROP_POLICY, prog, DIR_EGRESS, 0);
		ct_create(skb, &p, CT_STACK, 0, prog, DIR_EGRESS);
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
	skb->cb[CB_KIND] = TK_TUNNEL;
	skb->cb[CB_TUNNEL] = dst->tunnel_endpoint;
	return TC_ACT_OK;
}

static __always_inline int to_overlay_body(struct __sk_buff *skb)
{
	return to_remote(skb, 1);
}

static __always_inline int to_netdev_body(struct __sk_buff *skb)
{
	return to_remote(skb, 0);
}

/* The packet's addresses and ports, read whatever a program did to its header. 0: not IPv4. */
static __always_inline int trace_tuple(struct __sk_buff *skb, struct ct_key *k)
{
	struct iphdr ip;
	__builtin_memset(k, 0, sizeof(*k));
	if (skb->protocol != bpf_htons(ETH_P_IP) ||
	    bpf_skb_load_bytes(skb, ETH_HLEN, &ip, sizeof(ip)))
		return 0;
	k->saddr = ip.saddr;
	k->daddr = ip.daddr;
	k->protocol = ip.protocol;
	if ((ip.protocol == IPPROTO_TCP || ip.protocol == IPPROTO_UDP) &&
	    !(ip.frag_off & bpf_htons(0x1fff))) {
		__be16 ports[2];
		if (bpf_skb_load_bytes(skb, ETH_HLEN + ip.ihl * 4, ports, sizeof(ports)) == 0) {
			k->sport = ports[0];
			k->dport = ports[1];
		}
	}
	return 1;
}

/* A traced packet's tuple as the program received it; trace_id 0: not traced. */
struct trace_start {
	struct ct_key in;
	__u32 trace_id;
	__u32 tcp_flags;
};

static __always_inline void trace_begin(struct __sk_buff *skb, struct trace_start *t)
{
	__u32 zero = 0;
	t->trace_id = 0;
	__u32 *on = bpf_map_lookup_elem(&tw_trace_on, &zero);
	if (!on || !*on || !trace_tuple(skb, &t->in))
		return;
	__u32 *id = bpf_map_lookup_elem(&tw_trace, &t->in);
	if (!id) {
		/* The tracer knows every port of the flow but the client's own: it names the
		 * requests with source port 0 and the replies with destination port 0. */
		struct ct_key w = t->in;
		w.sport = 0;
		id = bpf_map_lookup_elem(&tw_trace, &w);
		if (!id) {
			w = t->in;
			w.dport = 0;
			id = bpf_map_lookup_elem(&tw_trace, &w);
		}
	}
	if (!id)
		return;
	t->trace_id = *id;
	t->tcp_flags = 0;
	if (t->in.protocol == IPPROTO_TCP) {
		struct iphdr ip;
		__u8 flags = 0;
		if (bpf_skb_load_bytes(skb, ETH_HLEN, &ip, sizeof(ip)) == 0 &&
		    bpf_skb_load_bytes(skb, ETH_HLEN + ip.ihl * 4 + 13, &flags, 1) == 0)
			t->tcp_flags = flags;
	}
	skb->cb[CB_KIND] = TK_NONE;
	skb->cb[CB_TARGET] = 0;
	skb->cb[CB_REASON] = 0;
	skb->cb[CB_TUNNEL] = 0;
}

/* Reports the run; a translated packet's new tuple (and both replies') is traced from now on. */
static __always_inline int trace_end(struct __sk_buff *skb, struct trace_start *t, __u32 program,
				     int rc)
{
	if (!t->trace_id)
		return rc;
	struct trace_event *e = bpf_ringbuf_reserve(&tw_trace_events, sizeof(*e), 0);
	if (!e)
		return rc;
	__builtin_memset(e, 0, sizeof(*e));
	e->time_ns = bpf_ktime_get_ns();
	e->trace_id = t->trace_id;
	e->ifindex = skb->ifindex;
	e->rc = rc;
	e->kind = skb->cb[CB_KIND];
	e->target = skb->cb[CB_TARGET];
	e->reason = skb->cb[CB_REASON];
	e->tunnel = skb->cb[CB_TUNNEL];
	e->mark = skb->mark;
	e->program = program;
	e->tcp_flags = t->tcp_flags;
	e->in = t->in;
	if (!trace_tuple(skb, &e->out))
		e->out = t->in;
	struct ct_key out = e->out, r;
	bpf_ringbuf_submit(e, 0);
	if (out.saddr != t->in.saddr || out.daddr != t->in.daddr || out.sport != t->in.sport ||
	    out.dport != t->in.dport) {
		bpf_map_update_elem(&tw_trace, &out, &t->trace_id, BPF_ANY);
		reverse(&out, &r);
		bpf_map_update_elem(&tw_trace, &r, &t->trace_id, BPF_ANY);
		reverse(&t->in, &r);
		bpf_map_update_elem(&tw_trace, &r, &t->trace_id, BPF_ANY);
	}
	return rc;
}

#define TRACED_PROGRAM(name, id)                                                                   \
	SEC("tc")                                                                                  \
	int name(struct __sk_buff *skb)                                                            \
	{                                                                                          \
		struct trace_start t;                                                              \
		trace_begin(skb, &t);                                                              \
		return trace_end(skb, &t, id, name##_body(skb));                                   \
	}

TRACED_PROGRAM(from_container, PROG_FROM_CONTAINER)
TRACED_PROGRAM(to_container, PROG_TO_CONTAINER)
TRACED_PROGRAM(from_overlay, PROG_FROM_OVERLAY)
TRACED_PROGRAM(to_overlay, PROG_TO_OVERLAY)
TRACED_PROGRAM(from_netdev, PROG_FROM_NETDEV)
TRACED_PROGRAM(to_netdev, PROG_TO_NETDEV)

char LICENSE[] SEC("license") = "Dual BSD/GPL";
