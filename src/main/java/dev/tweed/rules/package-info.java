/**
 * Rulesets as data, between the renderers that make them (the service proxy's and policy's) and the
 * writers that put them in the kernel: iptables chains in restore form, jump rules from the
 * built-in chains, nftables scripts by service port.
 */
package dev.tweed.rules;
