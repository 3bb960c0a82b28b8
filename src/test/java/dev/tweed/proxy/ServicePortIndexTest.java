package dev.tweed.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tweed.model.EndpointSliceResource;
import dev.tweed.model.Json;
import dev.tweed.model.ServiceResource;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

class ServicePortIndexTest {
  private static JsonNode service(String name, String ip) {
    return Json.parse(
        """
        {"metadata": {"namespace": "default", "name": "%s"},
         "spec": {"clusterIP": "%s", "ports": [{"name": "http", "port": 80}]}}
        """
            .formatted(name, ip));
  }

  private static JsonNode slice(String service, String... ips) {
    StringBuilder eps = new StringBuilder();
    for (String ip : ips) {
      eps.append(eps.isEmpty() ? "" : ",").append("{\"addresses\": [\"").append(ip).append("\"]}");
    }
    return Json.parse(
        """
        {"metadata": {"namespace": "default", "name": "s1",
                      "labels": {"kubernetes.io/service-name": "%s"}},
         "addressType": "IPv4", "endpoints": [%s],
         "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]}
        """
            .formatted(service, eps));
  }

  @Test
  void onlyTheServicesAnUpdateTouchedAreResolvedAgain() {
    ServicePortIndex index = new ServicePortIndex();
    index.service("default", "a", Optional.of(ServiceResource.from(service("a", "10.96.0.1"))));
    index.service("default", "b", Optional.of(ServiceResource.from(service("b", "10.96.0.2"))));
    index.slice("default", "s1", Optional.of(EndpointSliceResource.from(slice("a", "10.244.0.1"))));
    assertThat(index.drainChanges()).containsOnlyKeys("default/a", "default/b");
    assertThat(index.drainChanges()).isEmpty();

    index.slice(
        "default",
        "s1",
        Optional.of(EndpointSliceResource.from(slice("a", "10.244.0.1", "10.244.0.2"))));
    var changes = index.drainChanges();
    assertThat(changes).containsOnlyKeys("default/a");
    assertThat(changes.get("default/a").getFirst().endpoints()).hasSize(2);

    // A slice relabelled to another Service changes both.
    index.slice("default", "s1", Optional.of(EndpointSliceResource.from(slice("b", "10.244.0.3"))));
    changes = index.drainChanges();
    assertThat(changes).containsOnlyKeys("default/a", "default/b");
    assertThat(changes.get("default/a").getFirst().endpoints()).isEmpty();
    assertThat(changes.get("default/b").getFirst().endpoints())
        .extracting(e -> e.ip())
        .containsExactly("10.244.0.3");

    index.service("default", "b", Optional.empty());
    assertThat(index.drainChanges().get("default/b")).isEmpty();
    assertThat(index.all()).containsOnlyKeys("default/a");
  }

  @Test
  void theIndexResolvesAsTheResolverDoes() {
    ServicePortIndex index = new ServicePortIndex();
    JsonNode svc = service("a", "10.96.0.1");
    JsonNode sl = slice("a", "10.244.0.1", "10.244.0.2");
    index.service("default", "a", Optional.of(ServiceResource.from(svc)));
    index.slice("default", "s1", Optional.of(EndpointSliceResource.from(sl)));
    assertThat(index.all().get("default/a"))
        .isEqualTo(ServicePortResolver.resolve(List.of(svc), List.of(sl)));
  }

  @Test
  void everyPortKeptCurrentUpdateByUpdateIsWhatResolvingAllGives() {
    for (long seed = 1; seed <= 20; seed++) {
      Random r = new Random(seed);
      ServicePortIndex index = new ServicePortIndex();
      Map<String, JsonNode> services = new TreeMap<>();
      Map<String, JsonNode> slices = new TreeMap<>();
      for (int step = 0; step < 60; step++) {
        if (r.nextBoolean()) {
          String name = "svc" + r.nextInt(5);
          if (r.nextInt(4) == 0) {
            services.remove(name);
            index.service("default", name, Optional.empty());
          } else {
            JsonNode svc = service(name, "10.96.0." + r.nextInt(200));
            services.put(name, svc);
            index.service("default", name, Optional.of(ServiceResource.from(svc)));
          }
        } else {
          String name = "slice" + r.nextInt(8);
          if (r.nextInt(4) == 0) {
            slices.remove(name);
            index.slice("default", name, Optional.empty());
          } else {
            ObjectNode sl = (ObjectNode) slice("svc" + r.nextInt(5), "10.244.0." + r.nextInt(50));
            ((ObjectNode) sl.path("metadata")).put("name", name);
            slices.put(name, sl);
            index.slice("default", name, Optional.of(EndpointSliceResource.from(sl)));
          }
        }
        if (r.nextInt(3) == 0) {
          index.drainChanges(); // the other consumer's reads change nothing here
        }
        assertThat(index.ports())
            .as("seed %d step %d", seed, step)
            .isEqualTo(
                ServicePortResolver.resolve(
                    List.copyOf(services.values()), List.copyOf(slices.values())));
      }
    }
  }
}
