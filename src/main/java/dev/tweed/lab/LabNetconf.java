package dev.tweed.lab;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tweed.calc.NodeDataplaneCalculator;
import dev.tweed.cni.CniVersions;
import dev.tweed.model.Json;

/** The CNI network configuration the lab hands to {@code tweed-cni} for pods on a node. */
public final class LabNetconf {
  private LabNetconf() {}

  public static ObjectNode forNode(LabLayout layout, String node) {
    ObjectNode n = Json.object();
    n.put("cniVersion", CniVersions.CONFIGURED);
    n.put("name", "tweed");
    n.put("type", "tweed-cni");
    n.put("agentSocket", layout.agentSocket(node).toString());
    n.put("mtu", NodeDataplaneCalculator.VXLAN_MTU);
    n.putObject("ipam")
        .put("type", "tweed-ipam")
        .put("pool", LabLayout.POD_CIDR)
        .put("blockSize", LabLayout.BLOCK_SIZE);
    return n;
  }

  /**
   * The same configuration as a network configuration list, the form runtimes read from their
   * configuration directory (podman, containerd, CRI-O).
   */
  public static ObjectNode conflistForNode(LabLayout layout, String node) {
    ObjectNode plugin = forNode(layout, node);
    ObjectNode list = Json.object();
    list.set("cniVersion", plugin.remove("cniVersion"));
    list.set("name", plugin.remove("name"));
    list.putArray("plugins").add(plugin);
    return list;
  }
}
