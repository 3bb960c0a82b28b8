/**
 * NetworkPolicy enforcement: policies parsed and validated into records, a pure calculator that
 * resolves them against pods and namespaces into per-endpoint intent for one node, and renderers
 * that turn that intent into iptables rules with ipsets or an nftables table with sets (text until
 * the dataplane writer applies it).
 */
package dev.tweed.policy;
