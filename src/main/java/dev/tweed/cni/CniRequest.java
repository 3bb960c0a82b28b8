package dev.tweed.cni;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tweed.model.Json;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * One plugin invocation: the {@code CNI_*} environment and the network configuration from stdin,
 * validated as the spec requires before anything is touched.
 */
public record CniRequest(
    CniCommand command,
    String containerId,
    Optional<String> netns,
    String ifname,
    String args,
    JsonNode config,
    String cniVersion) {

  private static final Pattern CONTAINER_ID = Pattern.compile("[a-zA-Z0-9][a-zA-Z0-9_.\\-]*");
  private static final Pattern IFNAME = Pattern.compile("[^/:\\s]{1,15}");

  /** The name the network configuration gives this network. */
  public String networkName() {
    return config.path("name").asText();
  }

  /** The IPAM handle: one allocation per attachment (container and interface). */
  public String handle() {
    return containerId + "." + ifname;
  }

  /** {@code K8S_POD_NAMESPACE/K8S_POD_NAME} from CNI_ARGS when the runtime passes them. */
  public String podRef() {
    String ns = "";
    String name = "";
    for (String kv : args.split(";")) {
      int eq = kv.indexOf('=');
      if (eq > 0) {
        String k = kv.substring(0, eq);
        if (k.equals("K8S_POD_NAMESPACE")) {
          ns = kv.substring(eq + 1);
        } else if (k.equals("K8S_POD_NAME")) {
          name = kv.substring(eq + 1);
        }
      }
    }
    return name.isEmpty() ? "" : ns + "/" + name;
  }

  public static CniRequest parse(Map<String, String> env, byte[] stdin) throws CniException {
    String cmdText = env.getOrDefault("CNI_COMMAND", "");
    CniCommand command;
    try {
      command = CniCommand.valueOf(cmdText);
    } catch (IllegalArgumentException e) {
      throw new CniException(
          CniException.INVALID_ENV,
          cmdText.isEmpty() ? "CNI_COMMAND is not set" : "unknown CNI_COMMAND " + cmdText);
    }
    if (command == CniCommand.VERSION) {
      return new CniRequest(
          command, "", Optional.empty(), "", "", Json.object(), CniVersions.LATEST);
    }
    JsonNode config;
    try {
      config = Json.MAPPER.readTree(new String(stdin, StandardCharsets.UTF_8));
    } catch (Exception e) {
      throw new CniException(
          CniException.DECODE_FAILURE, "cannot decode network configuration", e.getMessage());
    }
    if (config == null || !config.isObject()) {
      throw new CniException(
          CniException.DECODE_FAILURE, "network configuration is not a JSON object");
    }
    String version = config.path("cniVersion").asText("");
    if (version.isEmpty()) {
      throw new CniException(
          CniException.INVALID_CONFIG, "network configuration has no cniVersion");
    }
    if (!CniVersions.supports(version, command)) {
      throw new CniException(
          CniException.INCOMPATIBLE_VERSION,
          "cniVersion " + version + " is not supported for " + command,
          "supported: "
              + String.join(", ", CniVersions.SUPPORTED)
              + " (CHECK needs 0.4.0 or later, STATUS and GC 1.1.0)");
    }
    if (config.path("name").asText("").isEmpty()) {
      throw new CniException(CniException.INVALID_CONFIG, "network configuration has no name");
    }
    if (!"tweed-cni".equals(config.path("type").asText(""))) {
      throw new CniException(
          CniException.INVALID_CONFIG,
          "network configuration type is " + config.path("type") + ", expected \"tweed-cni\"");
    }
    String containerId = env.getOrDefault("CNI_CONTAINERID", "");
    String ifname = env.getOrDefault("CNI_IFNAME", "");
    Optional<String> netns = Optional.ofNullable(env.get("CNI_NETNS")).filter(s -> !s.isEmpty());
    boolean perAttachment =
        command == CniCommand.ADD || command == CniCommand.DEL || command == CniCommand.CHECK;
    if (perAttachment) {
      if (!CONTAINER_ID.matcher(containerId).matches()) {
        throw new CniException(
            CniException.INVALID_ENV,
            containerId.isEmpty()
                ? "CNI_CONTAINERID is not set"
                : "CNI_CONTAINERID is malformed: " + containerId);
      }
      if (!IFNAME.matcher(ifname).matches() || ifname.equals(".") || ifname.equals("..")) {
        throw new CniException(
            CniException.INVALID_ENV,
            ifname.isEmpty()
                ? "CNI_IFNAME is not set"
                : "CNI_IFNAME is not a valid interface name: " + ifname);
      }
      if (command != CniCommand.DEL && netns.isEmpty()) {
        throw new CniException(CniException.INVALID_ENV, "CNI_NETNS is not set");
      }
    }
    return new CniRequest(
        command, containerId, netns, ifname, env.getOrDefault("CNI_ARGS", ""), config, version);
  }
}
