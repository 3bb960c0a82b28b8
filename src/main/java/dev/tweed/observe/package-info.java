/**
 * Seeing what the network does: every agent's Prometheus metrics (sync durations per dataplane
 * part, objects programmed, CNI latency and errors, datastore health, drops by reason, BGP
 * sessions, drift repairs), served over HTTP inside the node's namespace.
 */
package dev.tweed.observe;
