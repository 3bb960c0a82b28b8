/**
 * Immutable records: Kubernetes-shaped resources as the datastore holds them, and the per-node
 * dataplane intent the calculation graph produces.
 */
package dev.tweed.model;
