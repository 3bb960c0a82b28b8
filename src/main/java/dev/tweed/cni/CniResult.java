package dev.tweed.cni;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tweed.model.Json;

/** Renders the ADD success result in the shape of the requested spec version. */
public final class CniResult {
  private CniResult() {}

  public static ObjectNode of(String cniVersion, PodAttachment a) {
    ObjectNode r = Json.object();
    r.put("cniVersion", cniVersion);
    ArrayNode ifs = r.putArray("interfaces");
    ifs.addObject().put("name", a.hostInterface()).put("mac", a.hostMac());
    ifs.addObject().put("name", a.podInterface()).put("mac", a.podMac()).put("sandbox", a.netns());
    ObjectNode ip = r.putArray("ips").addObject();
    if (CniVersions.tagsIpVersion(cniVersion)) {
      ip.put("version", "4");
    }
    ip.put("address", a.ip() + "/32").put("gateway", PodAttachment.GATEWAY).put("interface", 1);
    r.putArray("routes").addObject().put("dst", "0.0.0.0/0").put("gw", PodAttachment.GATEWAY);
    r.putObject("dns");
    return r;
  }
}
