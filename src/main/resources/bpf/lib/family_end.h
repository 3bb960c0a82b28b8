// SPDX-License-Identifier: (GPL-2.0-only OR Apache-2.0)
/* The end of one family's round (family.h): its names undefined for the next. */
#undef F
#undef ADDR
#undef ADDR_EQ
#undef PACKET
#undef NAT
#undef CT_KEY
#undef CT_ENTRY
#undef IPCACHE_KEY
#undef ADDR_PREFIX
#undef LB_FRONTEND_KEY
#undef LB_BACKEND
#undef LB_AFFINITY_KEY
#undef LB_SOURCE_KEY
#undef MAP_ENDPOINTS
#undef MAP_IPCACHE
#undef MAP_CT
#undef MAP_LB_FRONTENDS
#undef MAP_LB_BACKENDS
#undef MAP_LB_SERVICES
#undef MAP_LB_AFFINITY
#undef MAP_LB_SOURCES
#undef MAP_TRACE
#undef ETH_P_FAMILY
#undef PROTO_ICMP
#undef FAMILY
