/**
 * nftables without the {@code nft} tool: nf_tables changes encoded as netlink messages in Java and
 * committed as one batch (all or nothing) through {@link dev.tweed.sys.NfTablesSocket}, so a change
 * costs what it changes and not a listing of the whole ruleset first.
 */
package dev.tweed.dataplane.nftnl;
