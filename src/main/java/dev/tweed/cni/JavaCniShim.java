package dev.tweed.cni;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tweed.model.Json;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;

/**
 * {@code tweed-cni} written in Java: the same hand-off to the agent as the native shim, for hosts
 * without a C compiler. A JVM starts for every call, which the CNI benchmark measures.
 */
public final class JavaCniShim {
  public static final String DEFAULT_SOCKET = "/run/tweed/agent.sock";

  private JavaCniShim() {}

  public static int run() throws IOException {
    Map<String, String> env = new TreeMap<>();
    System.getenv()
        .forEach(
            (k, v) -> {
              if (k.startsWith("CNI_")) {
                env.put(k, v);
              }
            });
    if ("VERSION".equals(env.get("CNI_COMMAND"))) {
      System.out.print(CniPlugin.versionJson());
      return 0;
    }
    byte[] stdin = System.in.readAllBytes();
    String socket = DEFAULT_SOCKET;
    String version = CniVersions.LATEST;
    try {
      JsonNode conf = Json.MAPPER.readTree(new String(stdin, StandardCharsets.UTF_8));
      socket = conf.path("agentSocket").asText(DEFAULT_SOCKET);
      version = conf.path("cniVersion").asText(CniVersions.LATEST);
    } catch (IOException e) {
      // The agent reports the decode error with the spec's code.
    }
    try {
      CniPlugin.Response r = AgentClient.call(Path.of(socket), env, stdin);
      System.out.print(r.stdout());
      return r.exitCode();
    } catch (IOException e) {
      System.out.print(
          Json.write(
              new CniException(
                      CniException.TRY_AGAIN_LATER,
                      "tweed agent not reachable at " + socket + ": " + e.getMessage())
                  .toJson(version)));
      return 1;
    }
  }
}
