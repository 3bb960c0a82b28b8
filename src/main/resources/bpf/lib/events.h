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
	__u8 family;     /* 4 or 6; an IPv4 address is in its field's first 4 bytes */
	__u8 pad;
	__be16 sport;    /* as judged: after a Service's translation */
	__be16 dport;
	__be16 frontend_port;
	union v6addr saddr;
	union v6addr daddr;
	union v6addr frontend_addr;
	union v6addr client_addr;
	__be16 client_port;
	__u8 pad2[6];
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

/* A tuple of either family, as trace events carry it (an IPv4 address in its first 4 bytes). */
struct trace_tuple {
	union v6addr saddr;
	union v6addr daddr;
	__be16 sport;
	__be16 dport;
	__u8 protocol;
	__u8 family;
	__u8 pad[2];
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
	struct trace_tuple in;
	struct trace_tuple out;
};

/* Scratch slot {@code slot} (SCRATCH_*), zeroed, when it holds size bytes; else NULL. */
static __always_inline void *scratch(__u32 slot, __u32 size)
{
	void *buf = bpf_map_lookup_elem(&tw_scratch, &slot);
	if (!buf || size > SCRATCH_SIZE)
		return 0;
	__builtin_memset(buf, 0, SCRATCH_SIZE);
	return buf;
}

static __always_inline void count(__u32 reason)
{
	__u64 *n = bpf_map_lookup_elem(&tw_counts, &reason);
	if (n)
		*n += 1;
}

/* One event to the agent, its addresses still to be written; NULL when flows are off or the
 * ring buffer is full (then the event is lost, never the packet). */
static __always_inline struct flow_event *emit_begin(struct __sk_buff *skb, __u32 verdict,
						     __u32 reason, __u8 program, __u8 direction,
						     __u8 protocol, __u8 family, __u8 translated)
{
	__u32 zero = 0;
	struct config *cfg = bpf_map_lookup_elem(&tw_config, &zero);
	if (cfg && (cfg->flags & CFG_NO_FLOWS))
		return 0;
	struct flow_event *e = bpf_ringbuf_reserve(&tw_events, sizeof(*e), 0);
	if (!e) {
		count(EVENTS_LOST);
		return 0;
	}
	__builtin_memset(e, 0, sizeof(*e));
	e->time_ns = bpf_ktime_get_ns();
	e->verdict = verdict;
	e->reason = reason;
	e->ifindex = skb->ifindex;
	e->program = program;
	e->direction = direction;
	e->protocol = protocol;
	e->family = family;
	e->translated = translated;
	return e;
}

static __always_inline void emit4(struct __sk_buff *skb, struct packet *p, __u32 verdict,
				  __u32 reason, __u8 program, __u8 direction, const struct nat *nat)
{
	__u8 translated = nat && nat->translated;
	struct flow_event *e = emit_begin(skb, verdict, reason, program, direction,
					  p->tuple.protocol, 4, translated);
	if (!e)
		return;
	e->saddr.w[0] = p->tuple.saddr;
	e->daddr.w[0] = p->tuple.daddr;
	e->sport = p->tuple.sport;
	e->dport = p->tuple.dport;
	if (translated) {
		e->frontend_addr.w[0] = nat->frontend_addr;
		e->client_addr.w[0] = nat->client_addr;
		e->frontend_port = nat->frontend_port;
		e->client_port = nat->client_port;
	}
	bpf_ringbuf_submit(e, 0);
}

static __always_inline void emit6(struct __sk_buff *skb, struct packet6 *p, __u32 verdict,
				  __u32 reason, __u8 program, __u8 direction, const struct nat6 *nat)
{
	__u8 translated = nat && nat->translated;
	struct flow_event *e = emit_begin(skb, verdict, reason, program, direction,
					  p->tuple.protocol, 6, translated);
	if (!e)
		return;
	e->saddr = p->tuple.saddr;
	e->daddr = p->tuple.daddr;
	e->sport = p->tuple.sport;
	e->dport = p->tuple.dport;
	if (translated) {
		e->frontend_addr = nat->frontend_addr;
		e->client_addr = nat->client_addr;
		e->frontend_port = nat->frontend_port;
		e->client_port = nat->client_port;
	}
	bpf_ringbuf_submit(e, 0);
}

static __always_inline int drop_seen4(struct __sk_buff *skb, struct packet *p, __u32 reason,
				      __u8 program, __u8 direction, const struct nat *nat)
{
	skb->cb[CB_REASON] = reason;
	count(reason);
	emit4(skb, p, VERDICT_DROPPED, reason, program, direction, nat);
	return TC_ACT_SHOT;
}

static __always_inline int drop_seen6(struct __sk_buff *skb, struct packet6 *p, __u32 reason,
				      __u8 program, __u8 direction, const struct nat6 *nat)
{
	skb->cb[CB_REASON] = reason;
	count(reason);
	emit6(skb, p, VERDICT_DROPPED, reason, program, direction, nat);
	return TC_ACT_SHOT;
}

static __always_inline int drop4(struct __sk_buff *skb, struct packet *p, __u32 reason)
{
	return drop_seen4(skb, p, reason, 0, DIR_UNKNOWN, 0);
}

static __always_inline int drop6(struct __sk_buff *skb, struct packet6 *p, __u32 reason)
{
	return drop_seen6(skb, p, reason, 0, DIR_UNKNOWN, 0);
}
