/**
 * Dataplane drivers: read what the kernel has, diff it against the desired state, apply only the
 * difference (never flush), so that drift is repaired and live traffic is not disturbed.
 */
package dev.tweed.dataplane;
