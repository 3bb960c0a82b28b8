// SPDX-License-Identifier: (GPL-2.0-only OR Apache-2.0)
/*
 * (Per family, see family.h.) Tracing for trace --verify: each program's run noted as a trace
 * event, by connection.
 */

/* A traced packet's tuple as the program received it, and room for the tuples trace_end writes:
 * kept in the scratch map (SCRATCH_TRACE), off the stack the program's body needs. */
struct F(trace_start) {
	CT_KEY key;
	CT_KEY out;
	CT_KEY r;
	struct trace_tuple in;
	__u32 trace_id;
	__u32 tcp_flags;
};

/* The packet's trace state when it is traced; NULL (the usual case: one array read) when not. */
static __always_inline struct F(trace_start) *F(trace_begin)(struct __sk_buff *skb)
{
	__u32 zero = 0;
	__u32 *on = bpf_map_lookup_elem(&tw_trace_on, &zero);
	if (!on || !*on)
		return 0;
	struct F(trace_start) *t = scratch(SCRATCH_TRACE, sizeof(*t));
	if (!t || !F(trace_tuple)(skb, &t->in, &t->key))
		return 0;
	__u32 *id = bpf_map_lookup_elem(&MAP_TRACE, &t->key);
	if (!id) {
		/* The tracer knows every port of the flow but the client's own: it names the
		 * requests with source port 0 and the replies with destination port 0. */
		t->out = t->key;
		t->out.sport = 0;
		id = bpf_map_lookup_elem(&MAP_TRACE, &t->out);
		if (!id) {
			t->out = t->key;
			t->out.dport = 0;
			id = bpf_map_lookup_elem(&MAP_TRACE, &t->out);
		}
	}
	if (!id)
		return 0;
	t->trace_id = *id;
	t->tcp_flags = 0;
	if (t->key.protocol == IPPROTO_TCP) {
		__u8 flags = 0;
		if (bpf_skb_load_bytes(skb, F(trace_l4_)(skb) + 13, &flags, 1) == 0)
			t->tcp_flags = flags;
	}
	skb->cb[CB_KIND] = TK_NONE;
	skb->cb[CB_TARGET] = 0;
	skb->cb[CB_REASON] = 0;
	skb->cb[CB_TUNNEL] = 0;
	return t;
}

/* Reports the run; a translated packet's new tuple (and both replies') is traced from now on. */
static __always_inline int F(trace_end)(struct __sk_buff *skb, struct F(trace_start) *t,
					__u32 program, int rc)
{
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
	if (!F(trace_tuple)(skb, &e->out, &t->out)) {
		e->out = t->in;
		t->out = t->key;
	}
	bpf_ringbuf_submit(e, 0);
	if (!ADDR_EQ(t->out.saddr, t->key.saddr) || !ADDR_EQ(t->out.daddr, t->key.daddr) ||
	    t->out.sport != t->key.sport || t->out.dport != t->key.dport) {
		bpf_map_update_elem(&MAP_TRACE, &t->out, &t->trace_id, BPF_ANY);
		F(reverse)(&t->out, &t->r);
		bpf_map_update_elem(&MAP_TRACE, &t->r, &t->trace_id, BPF_ANY);
		F(reverse)(&t->key, &t->r);
		bpf_map_update_elem(&MAP_TRACE, &t->r, &t->trace_id, BPF_ANY);
	}
	return rc;
}
