package dev.tweed.ebpf;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tweed.proxy.ProxyNode;
import dev.tweed.proxy.ServicePort;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

class ServiceLbCalculatorTest {
  private static final ProxyNode NODE =
      new ProxyNode("node-1", "10.244.0.0/16", List.of("172.31.0.11"));

  private static List<ServicePort.Endpoint> endpoints(int n) {
    List<ServicePort.Endpoint> out = new ArrayList<>();
    for (int i = 1; i <= n; i++) {
      out.add(
          new ServicePort.Endpoint(
              "10.244.1." + i, 8080, Optional.of(i == 1 ? "node-1" : "node-2")));
    }
    return out;
  }

  private static ServicePort web(List<ServicePort.Endpoint> eps) {
    return ServicePort.clusterIp("default", "web", "http", "TCP", "10.96.0.10", 80, eps);
  }

  private static List<String> slots(LbService s) {
    return s.internal().backends().stream().map(b -> b.ip() + "#" + b.id()).toList();
  }

  @Test
  void aLeavingBackendsSlotIsTakenByTheLastAndNoOtherMoves() {
    var calc = new ServiceLbCalculator(NODE);
    List<ServicePort.Endpoint> five = endpoints(5);
    LbService before = calc.calculate(List.of(web(five))).get("default/web:http/TCP");
    List<ServicePort.Endpoint> withoutSecond = new ArrayList<>(five);
    withoutSecond.remove(1);
    LbService after = calc.calculate(List.of(web(withoutSecond))).get("default/web:http/TCP");
    List<String> b = slots(before);
    assertThat(slots(after)).containsExactly(b.get(0), b.get(4), b.get(2), b.get(3));
    assertThat(after.id()).isEqualTo(before.id());
    // Its id is free again, and the next new backend takes it.
    LbService back = calc.calculate(List.of(web(five))).get("default/web:http/TCP");
    assertThat(slots(back)).containsExactly(b.get(0), b.get(4), b.get(2), b.get(3), b.get(1));
  }

  @Test
  void anUnchangedPortIsTheSameServiceAndEntriesDifferOnlyWhereTheChangeIs() {
    var calc = new ServiceLbCalculator(NODE);
    ServicePort other =
        ServicePort.clusterIp("default", "db", "", "TCP", "10.96.0.11", 5432, endpoints(3));
    Map<String, LbService> first = calc.calculate(List.of(web(endpoints(10)), other));
    Map<String, LbService> second = calc.calculate(List.of(web(endpoints(9)), other));
    assertThat(second.get("default/db/TCP")).isSameAs(first.get("default/db/TCP"));
    var before = LbMapWriter.entries(first.get("default/web:http/TCP"));
    var after = LbMapWriter.entries(second.get("default/web:http/TCP"));
    // The last backend went: its backend entry and its slot go, and the count changes.
    assertThat(before.keySet()).containsAll(after.keySet());
    assertThat(before.size() - after.size()).isEqualTo(2);
    long changed =
        after.keySet().stream()
            .filter(k -> !Arrays.equals(before.get(k)[1], after.get(k)[1]))
            .count();
    assertThat(changed).isEqualTo(1);
  }

  @Test
  void localPoliciesGiveEachScopeItsBackendsAndDropRatherThanRefuse() {
    var calc = new ServiceLbCalculator(NODE);
    ServicePort p =
        new ServicePort(
            "default",
            "lb",
            "",
            "TCP",
            "10.96.0.12",
            80,
            30080,
            List.of("198.51.100.1"),
            List.of("192.0.2.10"),
            List.of("10.0.0.0/8"),
            Optional.of(60),
            true,
            false,
            0,
            List.of(new ServicePort.Endpoint("10.244.2.5", 8080, Optional.of("node-2"))));
    LbService s = calc.calculate(List.of(p)).get("default/lb/TCP");
    assertThat(s.internal().backends()).hasSize(1);
    assertThat(s.external()).get().extracting(LbService.Scope::dropWhenEmpty).isEqualTo(true);
    assertThat(s.affinitySeconds()).isEqualTo(60);
    assertThat(s.frontends())
        .extracting(
            f ->
                f.ip()
                    + ":"
                    + f.port()
                    + (f.masquerade() ? " masq" : "")
                    + (f.ranges() ? " ranges" : ""))
        .containsExactly(
            "10.96.0.12:80", "172.31.0.11:30080", "198.51.100.1:80", "192.0.2.10:80 ranges");
    assertThat(s.sourceRanges()).containsExactly("10.0.0.0/8");
    ServicePort none =
        ServicePort.clusterIp("default", "none", "", "UDP", "10.96.0.13", 53, List.of());
    LbService empty = calc.calculate(List.of(none)).get("default/none/UDP");
    assertThat(empty.internal().backends()).isEmpty();
    assertThat(empty.internal().dropWhenEmpty()).as("no endpoint anywhere: refused").isFalse();
  }

  @Test
  void aRemovedServiceFreesItsIdForTheNext() {
    var calc = new ServiceLbCalculator(NODE);
    ServicePort a = web(endpoints(2));
    ServicePort b =
        ServicePort.clusterIp("default", "b", "", "TCP", "10.96.0.20", 80, endpoints(2));
    int idA = calc.calculate(List.of(a, b)).get("default/web:http/TCP").id();
    calc.calculate(List.of(b));
    ServicePort c =
        ServicePort.clusterIp("default", "c", "", "TCP", "10.96.0.21", 80, endpoints(1));
    assertThat(calc.calculate(List.of(b, c)).get("default/c/TCP").id()).isEqualTo(idA);
  }

  @Test
  void aRestartedAgentAdoptsTheIdsInTheMapsAndCalculatesTheSameEntries() {
    var first = new ServiceLbCalculator(NODE);
    List<ServicePort> ports = new ArrayList<>();
    for (int i = 0; i < 20; i++) {
      ports.add(
          ServicePort.clusterIp(
              "default",
              "s" + i,
              "",
              i % 2 == 0 ? "TCP" : "UDP",
              "10.96.1." + i,
              80,
              endpoints(1 + i % 4)));
    }
    first.calculate(ports.subList(0, 5)); // ids given out, then some freed
    first.calculate(ports);
    // A backend leaves s3 and comes back: its slots are no longer in the endpoints' order, which
    // is the order a fresh calculation would give them.
    ServicePort s3 = ports.get(3);
    List<ServicePort> without = new ArrayList<>(ports);
    without.set(3, s3.withEndpoints(s3.endpoints().subList(1, s3.endpoints().size())));
    first.calculate(without);
    Map<String, LbService> before = first.calculate(ports);
    assertThat(before.get("default/s3/UDP").internal().backends().getFirst().ip())
        .as("s3's first slot after the backend came back")
        .isNotEqualTo(s3.endpoints().getFirst().ip());
    // What a new agent reads from the pinned maps.
    List<LbMaps.FrontendEntry> frontends = new ArrayList<>();
    List<LbMaps.BackendEntry> backends = new ArrayList<>();
    List<LbMaps.ServiceEntry> slots = new ArrayList<>();
    for (LbService s : before.values()) {
      LbMapWriter.forEachEntry(
          s,
          (m, k, v) -> {
            if (m.equals(LbMaps.FRONTENDS)) {
              frontends.add(LbMaps.frontend(k, v));
            } else if (m.equals(LbMaps.BACKENDS)) {
              backends.add(LbMaps.backend(k, v));
            } else if (m.equals(LbMaps.SERVICES)) {
              slots.add(LbMaps.service(k, v));
            }
          });
    }
    var second = new ServiceLbCalculator(NODE);
    second.adopt(new LbMaps.Contents(frontends, backends, slots));
    Map<String, LbService> after = second.calculate(ports.reversed());
    for (String key : before.keySet()) {
      assertThat(after.get(key).id()).as(key).isEqualTo(before.get(key).id());
      // Every entry, keys and values: the same ids in the same slots, nothing to rewrite.
      assertThat(hexEntries(after.get(key))).as(key).isEqualTo(hexEntries(before.get(key)));
    }
    // A new service after that takes an id nobody holds.
    var extra = ServicePort.clusterIp("default", "new", "", "TCP", "10.96.2.1", 80, endpoints(2));
    List<ServicePort> more = new ArrayList<>(ports);
    more.add(extra);
    Map<String, LbService> withNew = second.calculate(more);
    assertThat(before.values().stream().map(LbService::id))
        .doesNotContain(withNew.get("default/new/TCP").id());
  }

  private static Map<String, String> hexEntries(LbService s) {
    Map<String, String> out = new TreeMap<>();
    LbMapWriter.forEachEntry(
        s,
        (m, k, v) -> out.put(m + "/" + HexFormat.of().formatHex(k), HexFormat.of().formatHex(v)));
    return out;
  }
}
