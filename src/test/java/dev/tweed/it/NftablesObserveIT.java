package dev.tweed.it;

/** Observation with the nftables proxy: conntrack's events of the kernel's own NAT. */
class NftablesObserveIT extends ObserveIT {
  @Override
  String proxyMode() {
    return "nftables";
  }
}
