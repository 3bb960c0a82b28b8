package dev.tweed.it;

/**
 * The dual-stack Service tests again with kube-proxy's nftables layout: each family's Services in
 * its own table, {@code ip tweed-proxy} and {@code ip6 tweed-proxy}.
 */
class NftablesDualStackServiceIT extends DualStackServiceIT {
  @Override
  String proxyMode() {
    return "nftables";
  }
}
