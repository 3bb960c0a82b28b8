// SPDX-License-Identifier: (GPL-2.0-only OR Apache-2.0)
/*
 * What the programs tell the agent: flow events, counts by reason, and the trace events
 * trace --verify reads; dropping a packet says why.
 */
#pragma once

#include "packet.h"

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
