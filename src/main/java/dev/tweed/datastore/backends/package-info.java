/**
 * Opens the datastore a process is configured with (embedded journal, etcd, Kubernetes API) and the
 * syncer that follows it; the only package that names every backend.
 */
package dev.tweed.datastore.backends;
