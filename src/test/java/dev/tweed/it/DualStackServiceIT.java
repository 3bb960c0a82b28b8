package dev.tweed.it;

/**
 * Every Service test again in a dual-stack lab, with the iptables proxy: the Services that ask for
 * both families (PreferDualStack) answer on their IPv6 clusterIP and on the nodes' IPv6 addresses
 * as on the IPv4 ones, through ip6tables rules of kube-proxy's layout.
 */
class DualStackServiceIT extends ServiceIT {
  @Override
  String ipFamily() {
    return "dual";
  }
}
