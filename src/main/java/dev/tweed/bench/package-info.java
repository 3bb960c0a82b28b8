/**
 * Benchmarks run against the real kernel in a lab of their own, each beside a baseline measured in
 * the same run: figures are reported as ratios, never asserted as wall-clock limits.
 */
package dev.tweed.bench;
