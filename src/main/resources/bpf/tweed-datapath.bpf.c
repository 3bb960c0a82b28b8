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
#include "lib/common.h"
#include "lib/maps.h"
#include "lib/packet.h"
#include "lib/events.h"
#include "lib/conntrack.h"
#include "lib/policy.h"
#include "lib/config.h"
#include "lib/deliver.h"
#include "lib/nat.h"
#include "lib/lb.h"
#include "lib/trace.h"

/* The programs, by attachment point. */
#include "lxc.h"
#include "remote.h"

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
