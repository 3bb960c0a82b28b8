/**
 * Tweed's tc programs as a model: the maps' contents captured from a node ({@link
 * dev.tweed.trace.bpf.BpfState}) and what each program ({@code from_container}, {@code
 * to_container}, {@code from_overlay}, {@code to_overlay}, {@code from_netdev}, {@code to_netdev})
 * does with a packet over them ({@link dev.tweed.trace.bpf.TweedPrograms}): every map lookup and
 * its result, the translation, and the action (pass to the stack, redirect, encapsulate, drop). The
 * semantics are those of {@code tweed-datapath.bpf.c}; {@code trace --verify} checks them against
 * the programs' own trace events.
 */
package dev.tweed.trace.bpf;
