package dev.tweed.cni;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The framing between {@code tweed-cni} and the agent, simple enough for a few lines of C: the
 * request is the {@code CNI_*} environment as {@code KEY=VALUE} lines, an empty line, then stdin
 * verbatim up to EOF; the response is the exit code on one line, then stdout verbatim.
 */
public final class AgentSocketProtocol {
  /** A request that asks for the agent's health instead of a CNI command. */
  public static final String HEALTH_OP = "TWEED_OP=health";

  private AgentSocketProtocol() {}

  /** A decoded request. */
  public record Request(Map<String, String> env, byte[] stdin) {}

  public static byte[] encodeRequest(Map<String, String> env, byte[] stdin) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    env.forEach((k, v) -> out.writeBytes((k + "=" + v + "\n").getBytes(StandardCharsets.UTF_8)));
    out.write('\n');
    out.writeBytes(stdin);
    return out.toByteArray();
  }

  public static Request decodeRequest(byte[] data) {
    Map<String, String> env = new LinkedHashMap<>();
    int pos = 0;
    while (pos < data.length) {
      int nl = indexOf(data, (byte) '\n', pos);
      if (nl < 0) {
        nl = data.length;
      }
      if (nl == pos) {
        pos++;
        break;
      }
      String line = new String(data, pos, nl - pos, StandardCharsets.UTF_8);
      int eq = line.indexOf('=');
      if (eq > 0) {
        env.put(line.substring(0, eq), line.substring(eq + 1));
      }
      pos = nl + 1;
    }
    return new Request(env, Arrays.copyOfRange(data, Math.min(pos, data.length), data.length));
  }

  public static byte[] encodeResponse(int exitCode, String stdout) {
    return (exitCode + "\n" + stdout).getBytes(StandardCharsets.UTF_8);
  }

  /** Returns {exit code, stdout}. */
  public static CniPlugin.Response decodeResponse(byte[] data) {
    int nl = indexOf(data, (byte) '\n', 0);
    if (nl < 0) {
      throw new IllegalArgumentException("truncated response from agent");
    }
    int code = Integer.parseInt(new String(data, 0, nl, StandardCharsets.UTF_8).strip());
    return new CniPlugin.Response(
        code, new String(data, nl + 1, data.length - nl - 1, StandardCharsets.UTF_8));
  }

  private static int indexOf(byte[] d, byte b, int from) {
    for (int i = from; i < d.length; i++) {
      if (d[i] == b) {
        return i;
      }
    }
    return -1;
  }
}
