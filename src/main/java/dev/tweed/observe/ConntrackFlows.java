package dev.tweed.observe;

import dev.tweed.ebpf.FlowEvent;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import java.util.function.Consumer;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The standard datapath's flows: the kernel's conntrack events for new connections ({@code
 * conntrack -E -e NEW}, run in the agent's namespace), each a flow the node let through, kept when
 * a pod of this node or a Service is involved (not the node's own VXLAN or BGP traffic). The reply
 * tuple tells a Service's translation: the backend the kernel's DNAT chose, and the masquerade.
 */
public final class ConntrackFlows implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(ConntrackFlows.class);
  private static final Pattern LINE =
      Pattern.compile("^\\s*\\[(\\d+)\\.(\\d+)\\]\\s+\\[NEW\\]\\s+(\\w+)\\s+(\\d+)\\s+(.*)$");
  private static final Pattern FIELD = Pattern.compile("(\\w+)=(\\S+)");

  private final Process process;
  private final Thread thread;

  /** {@code local}: whether an address is a pod of this node (the flow's direction follows). */
  public ConntrackFlows(Predicate<String> local, Consumer<FlowEvent> consumer) {
    try {
      process =
          new ProcessBuilder("conntrack", "-E", "-e", "NEW", "-o", "timestamp")
              .redirectError(ProcessBuilder.Redirect.DISCARD)
              .start();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot run conntrack -E (Debian's conntrack)", e);
    }
    thread =
        Thread.ofPlatform()
            .daemon()
            .name("conntrack-events")
            .start(
                () -> {
                  try (BufferedReader r =
                      new BufferedReader(
                          new InputStreamReader(
                              process.getInputStream(), StandardCharsets.UTF_8))) {
                    String line;
                    while ((line = r.readLine()) != null) {
                      parse(line, local).ifPresent(consumer);
                    }
                  } catch (IOException e) {
                    LOG.warn("event=conntrack-events-ended error=\"{}\"", e.getMessage());
                  }
                });
  }

  /**
   * One event line, as {@code conntrack -E -o timestamp} prints it: {@code [1764472800.123456]
   * [NEW] tcp 6 120 SYN_SENT src=A dst=V sport=P dport=80 [UNREPLIED] src=B dst=A sport=8080
   * dport=P}.
   */
  static Optional<FlowEvent> parse(String line, Predicate<String> local) {
    Matcher m = LINE.matcher(line);
    if (!m.matches()) {
      return Optional.empty();
    }
    int proto = Integer.parseInt(m.group(4));
    // The original tuple's fields come first, then the reply's: the same names twice.
    Map<String, String> orig = new HashMap<>();
    Map<String, String> reply = new HashMap<>();
    Matcher f = FIELD.matcher(m.group(5));
    while (f.find()) {
      (orig.containsKey(f.group(1)) ? reply : orig).putIfAbsent(f.group(1), f.group(2));
    }
    if (!orig.containsKey("src") || !reply.containsKey("src")) {
      return Optional.empty();
    }
    String src = orig.get("src");
    String dst = orig.get("dst");
    int sport = port(orig.get("sport"));
    int dport = port(orig.get("dport"));
    String backend = reply.get("src");
    int backendPort = port(reply.get("sport"));
    String masq = reply.get("dst");
    int masqPort = port(reply.get("dport"));
    boolean translated = !backend.equals(dst) || backendPort != dport;
    // In the kernel's monotonic terms the agent's clock mapping expects: wall time here.
    long wallNanos =
        Long.parseLong(m.group(1)) * 1_000_000_000L
            + Long.parseLong((m.group(2) + "000000000").substring(0, 9));
    long monotonic = wallNanos - (System.currentTimeMillis() * 1_000_000L - System.nanoTime());
    String direction =
        local.test(src) ? "egress" : local.test(translated ? backend : dst) ? "ingress" : "";
    if (direction.isEmpty() && !translated) {
      // Neither a pod of this node nor a Service: the node's own traffic (VXLAN, BGP, etcd).
      return Optional.empty();
    }
    return Optional.of(
        new FlowEvent(
            monotonic,
            "FORWARDED",
            "",
            0,
            "conntrack",
            direction,
            proto,
            translated ? masq : src,
            translated ? masqPort : sport,
            translated ? backend : dst,
            translated ? backendPort : dport,
            translated,
            translated ? dst : "0.0.0.0",
            translated ? dport : 0,
            translated ? src : "0.0.0.0",
            translated ? sport : 0));
  }

  private static int port(String s) {
    return s == null ? 0 : Integer.parseInt(s);
  }

  @Override
  public void close() {
    process.destroy();
    try {
      thread.join(2000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
