/**
 * The lab: a virtual cluster made of network namespaces on one machine (an underlay bridge, a
 * router, nodes, pods), running the real agent and the real CNI plugin, plus the controllers a
 * cluster would have (scheduler, kubelet's pod lifecycle) and a probe server in every pod.
 */
package dev.tweed.lab;
