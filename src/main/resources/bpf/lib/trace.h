// SPDX-License-Identifier: (GPL-2.0-only OR Apache-2.0)
/*
 * Tracing for trace --verify: each program's run noted as a trace event, by connection.
 */
#pragma once

#include "events.h"
#include "conntrack.h"

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
