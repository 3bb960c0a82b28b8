package dev.tweed.it;

/** Every Service test again, with the agents programming kube-proxy's nftables layout. */
class NftablesServiceIT extends ServiceIT {
  @Override
  String proxyMode() {
    return "nftables";
  }
}
