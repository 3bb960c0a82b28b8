/**
 * The Kubernetes API as Tweed's datastore: informers (list+watch, resync, relist after 410 Gone)
 * for the built-in kinds and Tweed's custom resources, and a key-value view of the custom resources
 * (IPAM blocks, workload endpoints) with compare-and-swap on resourceVersion.
 */
package dev.tweed.datastore.kubernetes;
