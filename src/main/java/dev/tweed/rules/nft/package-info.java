/**
 * nftables objects and rules as values: what the proxy and policy renderers produce and the
 * nftables writer writes. Each prints itself as a line of an {@code nft -f} script (kube-proxy's
 * transaction form), and the netlink writer encodes the same values into messages, so no script
 * text is parsed on the way to the kernel.
 */
package dev.tweed.rules.nft;
