/**
 * The service proxy: Services and EndpointSlices resolved into per-port load-balancing intent, and
 * renderers that turn it into kube-proxy-compatible iptables rules (pure: rules are text until the
 * dataplane writer applies them).
 */
package dev.tweed.proxy;
