/**
 * Datastores and the syncer that feeds the calculation graph: list at a revision, then watch from
 * that revision. The embedded store is a journal on local disk; etcd and the Kubernetes API
 * implement the same {@link dev.tweed.datastore.Datastore} interface.
 */
package dev.tweed.datastore;
