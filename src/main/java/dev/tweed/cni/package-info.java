/**
 * The CNI 1.1 plugin: request parsing and validation, ADD/DEL/CHECK/STATUS/GC/VERSION, the pod's
 * veth plumbing (Calico-style routed /32), and the local socket through which the thin {@code
 * tweed-cni} executable hands each call to the node agent.
 */
package dev.tweed.cni;
