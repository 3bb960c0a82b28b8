/**
 * nftables as the kernel sees it: rulesets parsed from {@code nft -j list ruleset} and evaluated
 * for one packet, and the events of {@code nft monitor trace}.
 */
package dev.tweed.kernel.nftables;
