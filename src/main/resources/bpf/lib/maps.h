// SPDX-License-Identifier: (GPL-2.0-only OR Apache-2.0)
/*
 * The maps and the layouts of their keys and values: endpoints, the IP cache, policy,
 * conntrack, configuration, counts, events, load balancing. The agent's Java layouts are checked
 * against these (DatapathLayoutTest).
 */
#pragma once

#include "common.h"

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
