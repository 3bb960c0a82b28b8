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
 *
 * Both families are served by the same logic, compiled once for each (lib/family.h) over each
 * family's maps; neighbour discovery and MLD are left to the stack.
 */
#include "lib/common.h"
#include "lib/maps.h"
#include "lib/packet.h"
#include "lib/events.h"
#include "lib/config.h"
#include "lib/policy.h"
#include "lib/nat.h"
#include "lib/ipv4.h"
#include "lib/ipv6.h"

/* The programs' logic, once per family (lib/family.h): IPv4, then IPv6. */
#define FAMILY 4
#include "lib/family.h"
#include "lib/lookup.h"
#include "lib/conntrack.h"
#include "lib/deliver.h"
#include "lib/lb.h"
#include "lib/trace.h"
#include "lxc.h"
#include "remote.h"
#include "lib/family_end.h"

#define FAMILY 6
#include "lib/family.h"
#include "lib/lookup.h"
#include "lib/conntrack.h"
#include "lib/deliver.h"
#include "lib/lb.h"
#include "lib/trace.h"
#include "lxc.h"
#include "remote.h"
#include "lib/family_end.h"

/* A program: its family's body for an IPv4 or IPv6 frame, traced when asked; any other frame
 * (ARP) is the stack's. Each family's run is a function of its own (a BPF-to-BPF call, __noinline),
 * and so is its body, so that stacks are per family: IPv6's larger tuples do not add to IPv4's
 * frame, and the two families' frames are never on the stack together. */
#define TRACED_PROGRAM(name, id)                                                                   \
	static __noinline int name##_traced4(struct __sk_buff *skb)                                \
	{                                                                                          \
		struct trace_start4 *t = trace_begin4(skb);                                        \
		int rc = name##_body4(skb);                                                       \
		return t ? trace_end4(skb, t, id, rc) : rc;                                       \
	}                                                                                          \
	static __noinline int name##_traced6(struct __sk_buff *skb)                                \
	{                                                                                          \
		struct trace_start6 *t = trace_begin6(skb);                                        \
		int rc = name##_body6(skb);                                                       \
		return t ? trace_end6(skb, t, id, rc) : rc;                                       \
	}                                                                                          \
	SEC("tc")                                                                                  \
	int name(struct __sk_buff *skb)                                                            \
	{                                                                                          \
		if (skb->protocol == bpf_htons(ETH_P_IP))                                          \
			return name##_traced4(skb);                                                \
		if (skb->protocol == bpf_htons(ETH_P_IPV6))                                        \
			return name##_traced6(skb);                                                \
		return TC_ACT_OK;                                                                  \
	}

TRACED_PROGRAM(from_container, PROG_FROM_CONTAINER)
TRACED_PROGRAM(to_container, PROG_TO_CONTAINER)
TRACED_PROGRAM(from_overlay, PROG_FROM_OVERLAY)
TRACED_PROGRAM(to_overlay, PROG_TO_OVERLAY)
TRACED_PROGRAM(from_netdev, PROG_FROM_NETDEV)
TRACED_PROGRAM(to_netdev, PROG_TO_NETDEV)

char LICENSE[] SEC("license") = "Dual BSD/GPL";
