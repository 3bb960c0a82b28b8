package dev.tweed.cni;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tweed.model.IpFamily;
import dev.tweed.model.Json;

/**
 * Renders the ADD success result in the shape of the requested spec version: one {@code ips} entry
 * per family, each on the pod interface with its family's gateway, and a default route per family.
 */
public final class CniResult {
  private CniResult() {}

  public static ObjectNode of(String cniVersion, PodAttachment a) {
    ObjectNode r = Json.object();
    r.put("cniVersion", cniVersion);
    ArrayNode ifs = r.putArray("interfaces");
    ifs.addObject().put("name", a.hostInterface()).put("mac", a.hostMac());
    ifs.addObject().put("name", a.podInterface()).put("mac", a.podMac()).put("sandbox", a.netns());
    ArrayNode ips = r.putArray("ips");
    ArrayNode routes = r.putArray("routes");
    for (String address : a.ips()) {
      IpFamily family = IpFamily.of(address);
      ObjectNode ip = ips.addObject();
      if (CniVersions.tagsIpVersion(cniVersion)) {
        ip.put("version", String.valueOf(family.number()));
      }
      ip.put("address", PodAttachment.hostPrefix(address))
          .put("gateway", PodAttachment.gateway(family))
          .put("interface", 1);
      routes
          .addObject()
          .put("dst", family == IpFamily.IPV4 ? "0.0.0.0/0" : "::/0")
          .put("gw", PodAttachment.gateway(family));
    }
    r.putObject("dns");
    return r;
  }
}
