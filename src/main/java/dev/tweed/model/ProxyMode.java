package dev.tweed.model;

/**
 * How the standard datapath writes Services and NetworkPolicy into netfilter: kube-proxy's iptables
 * layout (with ipsets for policy), or its nftables layout (written by netlink).
 */
public enum ProxyMode implements Mode {
  IPTABLES,
  NFTABLES;

  public static ProxyMode parse(String text) {
    return Mode.parse(ProxyMode.class, text);
  }
}
