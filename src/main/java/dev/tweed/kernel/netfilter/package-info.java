/**
 * Netfilter as the kernel evaluates it: {@code iptables-save} rule sets and {@code ipset save}
 * contents parsed into rules, matches and targets, and the evaluation of a packet against them,
 * including random forks (statistic) and the matches it cannot evaluate (reported, never guessed).
 */
package dev.tweed.kernel.netfilter;
