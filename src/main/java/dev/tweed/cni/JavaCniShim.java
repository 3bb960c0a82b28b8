package dev.tweed.cni;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tweed.model.Json;
import dev.tweed.sys.NetnsFd;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
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
    String version = CniVersions.LATEST;
    JsonNode conf;
    try {
      conf = Json.MAPPER.readTree(new String(stdin, StandardCharsets.UTF_8));
    } catch (IOException e) {
      conf = null;
    }
    if (conf == null || !conf.isObject()) {
      return answer(
          new CniException(
              CniException.DECODE_FAILURE,
              "cannot decode network configuration",
              "stdin is not a JSON object"),
          version);
    }
    String socket = conf.path("agentSocket").asText(DEFAULT_SOCKET);
    version = conf.path("cniVersion").asText(CniVersions.LATEST);
    String command = env.getOrDefault("CNI_COMMAND", "");
    Optional<NetnsFd> netns = Optional.empty();
    String netnsPath = env.getOrDefault("CNI_NETNS", "");
    if (!netnsPath.isEmpty()) {
      try {
        netns = Optional.of(NetnsFd.open(Path.of(netnsPath)));
      } catch (RuntimeException e) {
        if (command.equals("ADD") || command.equals("CHECK")) {
          return answer(
              new CniException(CniException.INVALID_ENV, "cannot open CNI_NETNS", e.getMessage()),
              version);
        }
      }
    }
    try {
      CniPlugin.Response r = AgentClient.call(Path.of(socket), env, stdin, netns);
      System.out.print(r.stdout());
      return r.exitCode();
    } catch (IOException e) {
      return answer(
          new CniException(
              CniException.TRY_AGAIN_LATER,
              "tweed agent not reachable at " + socket + ": " + e.getMessage()),
          version);
    } finally {
      netns.ifPresent(NetnsFd::close);
    }
  }

  private static int answer(CniException e, String version) {
    System.out.print(Json.write(e.toJson(version)));
    return 1;
  }
}
