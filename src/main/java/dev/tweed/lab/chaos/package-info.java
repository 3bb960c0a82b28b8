/**
 * {@code tweed lab chaos}: continuous probes between pods and through Services while faults are
 * injected at random and recovered from (an agent killed, BIRD killed, an etcd member killed, a
 * node's link flapped, the whole store down), pods created and deleted throughout; then the
 * invariants a network must keep (no address twice, no allocation without a pod, every pod reaching
 * every pod, nothing left of deleted pods) and a report by fault kind.
 */
package dev.tweed.lab.chaos;
