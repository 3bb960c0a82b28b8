package dev.tweed.datastore.kubernetes;

import io.fabric8.kubernetes.api.model.IntOrString;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.NodeBuilder;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.ServiceBuilder;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSliceBuilder;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicyBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesCrudDispatcher;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.fabric8.mockwebserver.Context;
import io.fabric8.mockwebserver.MockWebServer;
import io.fabric8.mockwebserver.http.Dispatcher;
import io.fabric8.mockwebserver.http.MockResponse;
import io.fabric8.mockwebserver.http.RecordedRequest;
import io.fabric8.mockwebserver.http.Response;
import io.fabric8.mockwebserver.http.WebSocket;
import io.fabric8.mockwebserver.http.WebSocketListener;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * fabric8's mock API server in CRUD mode on 127.0.0.1, with Tweed's CRDs from {@code
 * deploy/crds.yaml} created in it, and one thing CRUD mode cannot do by itself: answer a kind's
 * next watches with 410 Gone, as an API server does when the watch's resourceVersion was compacted.
 */
public final class MockApiServer implements AutoCloseable {
  private final KubernetesCrudDispatcher crud = new KubernetesCrudDispatcher();
  private final List<String> requests = new CopyOnWriteArrayList<>();
  private final ConcurrentHashMap<String, AtomicInteger> goneWatches = new ConcurrentHashMap<>();
  private final AtomicInteger goneAnswered = new AtomicInteger();
  private final KubernetesMockServer server;
  private final KubernetesClient client;

  public MockApiServer() throws IOException {
    Dispatcher dispatcher =
        new Dispatcher() {
          @Override
          public MockResponse dispatch(RecordedRequest request) {
            String path = request.getPath();
            requests.add(request.getMethod() + " " + path);
            if (path.contains("watch=true")) {
              for (var e : goneWatches.entrySet()) {
                if (path.startsWith(e.getKey() + "?") && e.getValue().getAndDecrement() > 0) {
                  goneAnswered.incrementAndGet();
                  return gone();
                }
              }
            }
            return crud.dispatch(request);
          }
        };
    server =
        new KubernetesMockServer(
            new Context(), new MockWebServer(), new HashMap<>(), dispatcher, false);
    server.init(InetAddress.getLoopbackAddress(), 0);
    client = server.createClient();
    try (InputStream crds = Files.newInputStream(Path.of("deploy/crds.yaml"))) {
      client.load(crds).create();
    }
  }

  /**
   * What an API server sends on a watch whose resourceVersion is too old: the watch opens, then one
   * ERROR event carrying a 410 Status, then the stream ends.
   */
  private static MockResponse gone() {
    String event =
        "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"apiVersion\":\"v1\","
            + "\"status\":\"Failure\",\"reason\":\"Expired\","
            + "\"message\":\"too old resource version\",\"code\":410}}";
    return new MockResponse()
        .withWebSocketUpgrade(
            new WebSocketListener() {
              @Override
              public void onOpen(WebSocket ws, Response response) {
                ws.send(event);
                ws.close(1000, "");
              }
            });
  }

  /** The loopback port it listens on. */
  public int port() {
    return server.getPort();
  }

  public KubernetesClient client() {
    return client;
  }

  /** The next {@code n} watch requests under {@code path} (e.g. /api/v1/pods) get 410 Gone. */
  public void expireNextWatches(String path, int n) {
    goneWatches.computeIfAbsent(path, p -> new AtomicInteger()).addAndGet(n);
  }

  /** A Node as kubelet registers it: a name and its InternalIP of each family. */
  public void createNode(String name, String... internalIps) {
    var status = new NodeBuilder().withNewMetadata().withName(name).endMetadata().withNewStatus();
    for (String ip : internalIps) {
      status = status.addNewAddress().withType("InternalIP").withAddress(ip).endAddress();
    }
    client.nodes().resource(status.endStatus().build()).create();
  }

  public void createNamespace(String name) {
    client
        .namespaces()
        .resource(new NamespaceBuilder().withNewMetadata().withName(name).endMetadata().build())
        .create();
  }

  /** A Pod in "default" labelled app=APP on NODE, as kubelet's API server holds it. */
  public void applyPod(String name, String app, String node) {
    client
        .pods()
        .inNamespace("default")
        .resource(
            new PodBuilder()
                .withNewMetadata()
                .withName(name)
                .withNamespace("default")
                .addToLabels("app", app)
                .endMetadata()
                .withNewSpec()
                .withNodeName(node)
                .endSpec()
                .build())
        .createOr(p -> p.update());
  }

  /**
   * A ClusterIP Service in "default" with one TCP port named http, as the API server stores it
   * after allocation: its clusterIPs (one per family, the first also {@code clusterIP}), their
   * families, and RequireDualStack when there are two.
   */
  public void createService(String name, List<String> clusterIps, int port, int targetPort) {
    client
        .services()
        .inNamespace("default")
        .resource(
            new ServiceBuilder()
                .withNewMetadata()
                .withName(name)
                .endMetadata()
                .withNewSpec()
                .withClusterIP(clusterIps.getFirst())
                .withClusterIPs(clusterIps)
                .withIpFamilies(
                    clusterIps.stream().map(ip -> ip.contains(":") ? "IPv6" : "IPv4").toList())
                .withIpFamilyPolicy(clusterIps.size() > 1 ? "RequireDualStack" : "SingleStack")
                .addNewPort()
                .withName("http")
                .withProtocol("TCP")
                .withPort(port)
                .withTargetPort(new IntOrString(targetPort))
                .endPort()
                .endSpec()
                .build())
        .create();
  }

  /** The Service's EndpointSlice of IP's family: one ready endpoint on NODE, port http. */
  public void createSlice(String name, String service, String ip, String node, int port) {
    client
        .discovery()
        .v1()
        .endpointSlices()
        .inNamespace("default")
        .resource(
            new EndpointSliceBuilder()
                .withNewMetadata()
                .withName(name)
                .addToLabels("kubernetes.io/service-name", service)
                .endMetadata()
                .withAddressType(ip.contains(":") ? "IPv6" : "IPv4")
                .addNewEndpoint()
                .withAddresses(ip)
                .withNodeName(node)
                .withNewConditions()
                .withReady(true)
                .endConditions()
                .endEndpoint()
                .addNewPort()
                .withName("http")
                .withProtocol("TCP")
                .withPort(port)
                .endPort()
                .build())
        .create();
  }

  /** A policy in "default" isolating the pods labelled app=APP for ingress. */
  public void createIsolation(String name, String app) {
    client
        .network()
        .v1()
        .networkPolicies()
        .inNamespace("default")
        .resource(
            new NetworkPolicyBuilder()
                .withNewMetadata()
                .withName(name)
                .endMetadata()
                .withNewSpec()
                .withNewPodSelector()
                .addToMatchLabels("app", app)
                .endPodSelector()
                .withPolicyTypes("Ingress")
                .endSpec()
                .build())
        .create();
  }

  /** How many watches were answered 410 Gone. */
  int goneAnswered() {
    return goneAnswered.get();
  }

  /** Every request so far, as "METHOD path?query". */
  List<String> requests() {
    return List.copyOf(requests);
  }

  long count(String methodAndPathPrefix, boolean watch) {
    return requests.stream()
        .filter(r -> r.startsWith(methodAndPathPrefix))
        .filter(r -> r.contains("watch=true") == watch)
        .count();
  }

  @Override
  public void close() {
    client.close();
    server.destroy();
  }
}
