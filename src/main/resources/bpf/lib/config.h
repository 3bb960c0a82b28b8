// SPDX-License-Identifier: (GPL-2.0-only OR Apache-2.0)
/*
 * The node's configuration, as the agent writes it.
 */
#pragma once

#include "maps.h"

static __always_inline struct config *config(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&tw_config, &zero);
}

static __always_inline struct config6 *config6(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&tw_config6, &zero);
}
