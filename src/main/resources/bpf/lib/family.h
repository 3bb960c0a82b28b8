// SPDX-License-Identifier: (GPL-2.0-only OR Apache-2.0)
/*
 * The programs' logic is written once and compiled once per family: the headers after this one
 * (lookup, conntrack, deliver, lb, trace and the programs' bodies) are included with FAMILY 4,
 * then again with FAMILY 6, and name their family's types, maps and helpers through these macros:
 * F(name) is name4 or name6, ADDR an address, PACKET a parsed packet, MAP_* the family's map.
 * family_end.h undefines them for the next round.
 */
#if FAMILY == 4
#define F(name) name##4
#define ADDR __be32
#define ADDR_EQ(a, b) ((a) == (b))
#define PACKET struct packet
#define NAT struct nat
#define CT_KEY struct ct_key
#define CT_ENTRY struct ct_entry
#define IPCACHE_KEY struct ipcache_key
#define ADDR_PREFIX 32
#define LB_FRONTEND_KEY struct lb_frontend_key
#define LB_BACKEND struct lb_backend
#define LB_AFFINITY_KEY struct lb_affinity_key
#define LB_SOURCE_KEY struct lb_source_key
#define MAP_ENDPOINTS tw_endpoints
#define MAP_IPCACHE tw_ipcache
#define MAP_CT tw_ct
#define MAP_LB_FRONTENDS tw_lb_frontends
#define MAP_LB_BACKENDS tw_lb_backends
#define MAP_LB_SERVICES tw_lb_services
#define MAP_LB_AFFINITY tw_lb_affinity
#define MAP_LB_SOURCES tw_lb_source_ranges
#define MAP_TRACE tw_trace
#define ETH_P_FAMILY ETH_P_IP
#define PROTO_ICMP IPPROTO_ICMP
#elif FAMILY == 6
#define F(name) name##6
#define ADDR union v6addr
#define ADDR_EQ(a, b) addr6_eq(&(a), &(b))
#define PACKET struct packet6
#define NAT struct nat6
#define CT_KEY struct ct6_key
#define CT_ENTRY struct ct6_entry
#define IPCACHE_KEY struct ipcache6_key
#define ADDR_PREFIX 128
#define LB_FRONTEND_KEY struct lb6_frontend_key
#define LB_BACKEND struct lb6_backend
#define LB_AFFINITY_KEY struct lb6_affinity_key
#define LB_SOURCE_KEY struct lb6_source_key
#define MAP_ENDPOINTS tw_endpoints6
#define MAP_IPCACHE tw_ipcache6
#define MAP_CT tw_ct6
#define MAP_LB_FRONTENDS tw_lb6_frontends
#define MAP_LB_BACKENDS tw_lb6_backends
#define MAP_LB_SERVICES tw_lb6_services
#define MAP_LB_AFFINITY tw_lb6_affinity
#define MAP_LB_SOURCES tw_lb6_source_ranges
#define MAP_TRACE tw_trace6
#define ETH_P_FAMILY ETH_P_IPV6
#define PROTO_ICMP IPPROTO_ICMPV6
#else
#error "FAMILY must be 4 or 6"
#endif
