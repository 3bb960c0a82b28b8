package dev.tweed.lab.chaos;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tweed.datastore.Datastore;
import dev.tweed.lab.InvalidResourceException;
import dev.tweed.lab.LabLayout;
import dev.tweed.lab.LabResources;
import dev.tweed.lab.LabStores;
import dev.tweed.model.Json;
import dev.tweed.model.PodResource;
import dev.tweed.model.ResourceKey;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Deque;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Pods created and deleted all through the soak, so that faults meet CNI calls and teardowns in
 * flight: every few seconds a pod {@value #PREFIX}N on a random node, and the oldest deleted once
 * more than two live. A step the store refuses (it may be down) is skipped, not fatal. What each
 * pod was given is remembered, so that the invariants can look for what a deleted pod left.
 */
final class PodChurn implements AutoCloseable {
  static final String PREFIX = "chaos-";
  static final String NAMESPACE = "default";

  /** A churned pod: where it ran and the address it had (empty if it never got one). */
  record ChurnedPod(String name, String node, Optional<String> ip) {}

  private final LabLayout layout;
  private final Random random;
  private final int nodes;
  private final AtomicBoolean stop = new AtomicBoolean();
  private final Deque<ChurnedPod> live = new ArrayDeque<>();
  private final List<ChurnedPod> deleted = Collections.synchronizedList(new ArrayList<>());
  private final List<String> skipped = Collections.synchronizedList(new ArrayList<>());
  private final Thread thread;
  private int created;

  PodChurn(LabLayout layout, Random random, int nodes) {
    this.layout = layout;
    this.random = random;
    this.nodes = nodes;
    this.thread = Thread.ofVirtual().start(this::run);
  }

  private void run() {
    int n = 0;
    while (!stop.get()) {
      try (Datastore store = LabStores.open(layout)) {
        LabResources resources = LabResources.of(store, layout);
        String node = LabLayout.nodeName(1 + random.nextInt(nodes));
        String name = PREFIX + (++n);
        resources.apply(List.of(pod(name, node)));
        created++;
        ChurnedPod pod = new ChurnedPod(name, node, awaitIp(store, name));
        ChurnedPod oldest = null;
        synchronized (live) {
          live.add(pod);
          if (live.size() > 2) {
            oldest = live.poll();
          }
        }
        if (oldest != null) {
          try {
            remove(resources, oldest);
          } catch (RuntimeException e) {
            // The store refused (it may be down): the pod is still alive, delete it later.
            synchronized (live) {
              live.addFirst(oldest);
            }
            throw e;
          }
        }
      } catch (RuntimeException | InvalidResourceException e) {
        skipped.add(e.getMessage());
      }
      FaultInjector.sleep(2000 + random.nextInt(2000));
    }
  }

  private void remove(LabResources resources, ChurnedPod p) throws InvalidResourceException {
    resources.delete(List.of(pod(p.name(), p.node())));
    deleted.add(p);
  }

  /** The pod's address once it runs, waiting up to 20 s (a fault may hold its CNI call up). */
  private Optional<String> awaitIp(Datastore store, String name) {
    long deadline = System.nanoTime() + 20_000_000_000L;
    while (System.nanoTime() < deadline && !stop.get()) {
      try {
        Optional<String> ip =
            store
                .get(ResourceKey.namespaced(PodResource.KIND, NAMESPACE, name).toString())
                .map(e -> PodResource.from(e.value()))
                .flatMap(PodResource::podIp);
        if (ip.isPresent()) {
          return ip;
        }
      } catch (RuntimeException e) {
        // The store is away for a moment; the pod exists all the same, ask again.
      }
      FaultInjector.sleep(200);
    }
    return Optional.empty();
  }

  private static ObjectNode pod(String name, String node) {
    ObjectNode o = Json.object();
    o.put("apiVersion", "v1").put("kind", "Pod");
    o.putObject("metadata").put("name", name).put("namespace", NAMESPACE);
    ObjectNode spec = o.putObject("spec");
    spec.put("nodeName", node);
    spec.putArray("containers").addObject().put("name", "c");
    return o;
  }

  int created() {
    return created;
  }

  List<String> skipped() {
    return List.copyOf(skipped);
  }

  /** Stops churning and deletes the pods still alive: afterwards, every churned pod is deleted. */
  @Override
  public void close() throws Exception {
    stop.set(true);
    thread.join();
    try (Datastore store = LabStores.open(layout)) {
      LabResources resources = LabResources.of(store, layout);
      synchronized (live) {
        while (!live.isEmpty()) {
          remove(resources, live.poll());
        }
      }
    }
  }

  List<ChurnedPod> deleted() {
    return List.copyOf(deleted);
  }
}
