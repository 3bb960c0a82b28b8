package dev.tweed.lab;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tweed.model.Json;
import dev.tweed.sys.Command;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Calls a CNI plugin the way a container runtime does: exec in the node's namespace with the {@code
 * CNI_*} variables and the network configuration on stdin, reading the JSON it prints.
 */
public final class CniExec {
  private CniExec() {}

  /** What the plugin said: exit code and parsed stdout (an empty object for empty output). */
  public record Outcome(int exitCode, JsonNode output, String stderr) {
    public boolean ok() {
      return exitCode == 0;
    }

    public String describe() {
      return output.path("msg").asText("exit " + exitCode)
          + (output.has("details") ? ": " + output.path("details").asText() : "")
          + (stderr.isBlank() ? "" : " (" + stderr.strip() + ")");
    }
  }

  public static Outcome call(
      String nodeNs,
      String binDir,
      String command,
      String containerId,
      String netns,
      String ifname,
      String args,
      JsonNode netconf) {
    List<String> argv =
        new ArrayList<>(List.of("ip", "netns", "exec", nodeNs, binDir + "/tweed-cni"));
    Map<String, String> env = new HashMap<>();
    env.put("CNI_COMMAND", command);
    env.put("CNI_CONTAINERID", containerId);
    env.put("CNI_NETNS", netns);
    env.put("CNI_IFNAME", ifname);
    env.put("CNI_ARGS", args);
    env.put("CNI_PATH", binDir);
    Command.Result r =
        Command.exec(argv, Json.write(netconf).getBytes(StandardCharsets.UTF_8), env, 60);
    JsonNode out = r.stdout().isBlank() ? Json.object() : Json.parse(r.stdout());
    return new Outcome(r.exitCode(), out, r.stderr());
  }
}
