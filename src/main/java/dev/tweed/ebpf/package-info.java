/**
 * The eBPF datapath: tc programs in C (compiled with clang, loaded with libbpf through the Foreign
 * Function and Memory API) and the maps that drive them (endpoints, IP cache, per-endpoint policy,
 * conntrack, drop counts), computed from the cluster's resources by a pure calculator and written
 * by diff through {@code bpf(2)}.
 */
package dev.tweed.ebpf;
