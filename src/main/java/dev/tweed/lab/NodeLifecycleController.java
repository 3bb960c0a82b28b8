package dev.tweed.lab;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tweed.cni.AgentClient;
import dev.tweed.datastore.Datastore;
import dev.tweed.datastore.Entry;
import dev.tweed.model.NodeResource;
import dev.tweed.model.ResourceKey;
import java.io.IOException;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The lab's NodeLifecycleController: a node whose agent has not answered its health check for a
 * grace period becomes NotReady (condition Ready=Unknown, as when kubelet stops posting status) and
 * gets the {@value #UNREACHABLE} NoExecute taint; the endpointslice controller then marks its pods'
 * endpoints not ready, so the proxies stop sending to them. When the agent answers again, the node
 * is Ready and untainted.
 */
public final class NodeLifecycleController {
  private static final Logger LOG = LoggerFactory.getLogger(NodeLifecycleController.class);
  public static final String UNREACHABLE = "node.kubernetes.io/unreachable";
  private final LabLayout layout;
  private final Datastore store;
  private final Duration grace;
  private final Map<String, Instant> lastSeen = new HashMap<>();
  private volatile boolean running = true;

  public NodeLifecycleController(LabLayout layout, Datastore store, Duration grace) {
    this.layout = layout;
    this.store = store;
    this.grace = grace;
  }

  public void run() {
    while (running) {
      try {
        pass(Instant.now());
      } catch (RuntimeException e) {
        LOG.warn("event=node-lifecycle-failed error=\"{}\"", e.getMessage());
      }
      LabProcesses.sleep(250);
    }
  }

  public void stop() {
    running = false;
  }

  void pass(Instant now) {
    for (Entry e : store.list(ResourceKey.kindPrefix(NodeResource.KIND)).entries()) {
      String node = NodeResource.from(e.value()).name();
      if (answers(node)) {
        lastSeen.put(node, now);
      }
      Instant seen = lastSeen.computeIfAbsent(node, n -> now);
      boolean ready = Duration.between(seen, now).compareTo(grace) < 0;
      if (ready != isReady(e.value())) {
        store.put(e.key(), withReadiness(e.value(), ready, now));
        LOG.info(
            "event=node-{} node={} silent_ms={}",
            ready ? "ready" : "not-ready",
            node,
            Duration.between(seen, now).toMillis());
      }
    }
  }

  private boolean answers(String node) {
    try {
      AgentClient.health(layout.agentSocket(node));
      return true;
    } catch (IOException | RuntimeException e) {
      return false;
    }
  }

  /** Ready unless a Ready condition says otherwise (a node nobody has judged yet is ready). */
  public static boolean isReady(JsonNode node) {
    for (JsonNode c : node.path("status").path("conditions")) {
      if (c.path("type").asText().equals("Ready")) {
        return c.path("status").asText().equals("True");
      }
    }
    return true;
  }

  static ObjectNode withReadiness(JsonNode node, boolean ready, Instant now) {
    ObjectNode n = node.deepCopy();
    ObjectNode status = n.with("status");
    ArrayNode conditions = status.putArray("conditions");
    conditions
        .addObject()
        .put("type", "Ready")
        .put("status", ready ? "True" : "Unknown")
        .put("reason", ready ? "AgentReady" : "NodeStatusUnknown")
        .put("lastTransitionTime", now.toString());
    ObjectNode spec = n.with("spec");
    ArrayNode taints = spec.putArray("taints");
    if (!ready) {
      taints
          .addObject()
          .put("key", UNREACHABLE)
          .put("effect", "NoExecute")
          .put("timeAdded", now.toString());
    }
    return n;
  }
}
