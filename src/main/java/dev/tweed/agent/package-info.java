/**
 * The node agent: wires datastore syncer, calculation graph and dataplane driver for one node,
 * serves the CNI plugin and health on a local socket.
 */
package dev.tweed.agent;
