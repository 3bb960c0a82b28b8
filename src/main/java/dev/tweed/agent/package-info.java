/**
 * The node agent: the syncer's updates into the calculation graph, each pass's changes to the
 * drivers (routes, BIRD, and the node's {@link dev.tweed.agent.NodeDatapath}), health and flows on
 * request. It knows nothing of CNI: the agent command serves both on one socket.
 */
package dev.tweed.agent;
