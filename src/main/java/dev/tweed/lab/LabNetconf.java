package dev.tweed.lab;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tweed.calc.NodeDataplaneCalculator;
import dev.tweed.cni.CniVersions;
import dev.tweed.model.Cidr;
import dev.tweed.model.IpFamilies;
import dev.tweed.model.Json;
import java.util.Set;

/** The CNI network configuration the lab hands to {@code tweed-cni} for pods on a node. */
public final class LabNetconf {
  private LabNetconf() {}

  /** The configuration of an IPv4 lab. */
  public static ObjectNode forNode(LabLayout layout, String node) {
    return forNode(layout, node, IpFamilies.IPV4);
  }

  /**
   * A pool per family of the lab, in its order; the pods' MTU fits the smallest of their families'
   * tunnels.
   */
  public static ObjectNode forNode(LabLayout layout, String node, IpFamilies families) {
    ObjectNode n = Json.object();
    n.put("cniVersion", CniVersions.CONFIGURED);
    n.put("name", "tweed");
    n.put("type", "tweed-cni");
    n.put("agentSocket", layout.agentSocket(node).toString());
    n.put("mtu", NodeDataplaneCalculator.podMtu(Set.copyOf(families.families())));
    ObjectNode ipam = n.putObject("ipam").put("type", "tweed-ipam");
    if (families == IpFamilies.IPV4) {
      // The single-pool form, as every IPv4 configuration before dual-stack wrote it.
      ipam.put("pool", LabLayout.POD_CIDR).put("blockSize", LabLayout.BLOCK_SIZE);
      return n;
    }
    ArrayNode pools = ipam.putArray("pools");
    for (Cidr c : LabLayout.podCidrs(families).cidrs()) {
      pools.addObject().put("cidr", c.toString()).put("blockSize", LabLayout.blockSize(c.family()));
    }
    return n;
  }

  /**
   * The same configuration as a network configuration list, the form runtimes read from their
   * configuration directory (podman, containerd, CRI-O).
   */
  public static ObjectNode conflistForNode(LabLayout layout, String node, IpFamilies families) {
    ObjectNode plugin = forNode(layout, node, families);
    ObjectNode list = Json.object();
    list.set("cniVersion", plugin.remove("cniVersion"));
    list.set("name", plugin.remove("name"));
    list.putArray("plugins").add(plugin);
    return list;
  }
}
