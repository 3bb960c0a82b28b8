package dev.tweed.it;

/** Every NetworkPolicy test again, with policy in the tweed-policy nftables table. */
class NftablesNetworkPolicyIT extends NetworkPolicyIT {
  @Override
  String proxyMode() {
    return "nftables";
  }
}
