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

struct ipcache6_key {
	__u32 prefixlen;
	union v6addr addr;
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

/* IPv6 connections: the same entry with IPv6 addresses. */
struct ct6_key {
	union v6addr saddr;
	union v6addr daddr;
	__be16 sport;
	__be16 dport;
	__u8 protocol;
	__u8 pad[3];
};

struct ct6_entry {
	__u64 created_ns;
	__u64 last_seen_ns;
	__u32 flags;
	__u32 backend;
	union v6addr nat_addr;
	union v6addr orig_addr;
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

/* The node's IPv6 configuration (tw_config6): the service network and the node's address. */
struct config6 {
	union v6addr service_net;
	union v6addr service_mask;
	union v6addr node_ip; /* all zero: no IPv6 address to masquerade to */
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

struct lb6_frontend_key {
	union v6addr addr;
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

struct lb6_backend {
	union v6addr addr;
	__be16 port;
	__u8 protocol;
	__u8 flags;
	__u32 service;
};

struct lb_affinity_key {
	__be32 client;
	__u32 service;
};

struct lb6_affinity_key {
	union v6addr client;
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

struct lb6_source_key {
	__u32 prefixlen; /* 32 + the range's */
	__u32 service;
	union v6addr addr;
};

/* The maps keyed by an address come in one per family, as Cilium's do (lb4_/lb6_, ct4/ct6): an
 * IPv4 packet's lookups keep their 4-byte keys. So do the service maps (a service's slots name
 * backend ids of its family's backend map; each family numbers its own). Policy, counts and
 * events are shared: an identity is one per label set, whatever the address's family. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __be32);
	__type(value, struct endpoint);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tw_endpoints SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, union v6addr);
	__type(value, struct endpoint);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tw_endpoints6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 65536);
	__type(key, struct ipcache6_key);
	__type(value, struct ipcache_entry);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tw_ipcache6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct ct6_key);
	__type(value, struct ct6_entry);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tw_ct6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct config6);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tw_config6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, struct lb6_frontend_key);
	__type(value, struct lb_frontend);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tw_lb6_frontends SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 262144);
	__type(key, struct lb_service_key);
	__type(value, struct lb_service);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tw_lb6_services SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 262144);
	__type(key, __u32);
	__type(value, struct lb6_backend);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tw_lb6_backends SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct lb6_affinity_key);
	__type(value, struct lb_affinity);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tw_lb6_affinity SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 16384);
	__type(key, struct lb6_source_key);
	__type(value, __u32);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tw_lb6_source_ranges SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, struct ct6_key);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tw_trace6 SEC(".maps");

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

/* Scratch space off the 512-byte stack, per CPU and never pinned (nothing outlives the program run
 * that uses it): slot SCRATCH_FRAME for building a frame (an ICMP refusal), SCRATCH_TRACE for a
 * traced packet's state while the program runs. */
#define SCRATCH_SIZE 256
#define SCRATCH_FRAME 0
#define SCRATCH_TRACE 1
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u8[SCRATCH_SIZE]);
} tw_scratch SEC(".maps");

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
