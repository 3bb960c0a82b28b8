/**
 * Checks a journey the model traced against the kernel: the same packet sent for real with nftables
 * tracing on, and the two rule paths compared.
 */
package dev.tweed.trace.verify;
