package dev.tweed.it;

/** The metrics again with nftables: drops read from the counters of the policy table's rules. */
class NftablesMetricsIT extends MetricsIT {
  @Override
  String proxyMode() {
    return "nftables";
  }
}
