package dev.tweed.dataplane;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tweed.model.Cidr;
import dev.tweed.model.FdbEntry;
import dev.tweed.model.Json;
import dev.tweed.model.Neighbor;
import dev.tweed.model.Route;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** Parses dumps taken with iproute2 6.1 from node-1 of a 3-node lab (src/test/resources/kernel). */
class KernelStateParserTest {
  static String dump(String name) throws Exception {
    return Files.readString(Path.of("src/test/resources/kernel/node-1", name));
  }

  @Test
  void routesKeepGatewayAndDeviceAndTreatBareAddressesAsHostRoutes() throws Exception {
    List<Route> routes = KernelStateParser.routes(Json.parse(dump("ip-route-proto-97.json")));
    assertThat(routes)
        .containsExactly(
            Route.direct(Cidr.parse("10.244.0.1/32"), "twd312890e5ac"),
            Route.direct(Cidr.parse("10.244.0.2/32"), "twc8e8cd79e2c"),
            Route.onlink(Cidr.parse("10.244.0.64/26"), "10.244.0.64", "tweed.vxlan"),
            Route.onlink(Cidr.parse("10.244.0.128/26"), "10.244.0.128", "tweed.vxlan"));
  }

  @Test
  void neighboursAndFdbEntries() throws Exception {
    assertThat(KernelStateParser.neighbors(Json.parse(dump("ip-neigh-vxlan.json")), "tweed.vxlan"))
        .containsExactly(
            new Neighbor("10.244.0.64", "aa:4c:fe:8a:86:31", "tweed.vxlan"),
            new Neighbor("10.244.0.128", "16:79:f5:9f:4d:f2", "tweed.vxlan"));
    assertThat(KernelStateParser.fdb(Json.parse(dump("bridge-fdb-vxlan.json")), "tweed.vxlan"))
        .containsExactly(
            new FdbEntry("aa:4c:fe:8a:86:31", "tweed.vxlan", "172.31.0.13"),
            new FdbEntry("16:79:f5:9f:4d:f2", "tweed.vxlan", "172.31.0.12"));
  }

  @Test
  void diffOfTheParsedStateAgainstItselfIsEmptyAndAgainstMoreIsExactlyTheMissingPart()
      throws Exception {
    var routes = KernelStateParser.routes(Json.parse(dump("ip-route-proto-97.json")));
    var neigh = KernelStateParser.neighbors(Json.parse(dump("ip-neigh-vxlan.json")), "tweed.vxlan");
    var fdb = KernelStateParser.fdb(Json.parse(dump("bridge-fdb-vxlan.json")), "tweed.vxlan");
    assertThat(
            DataplaneDiff.between(
                    Set.copyOf(routes), routes, Set.copyOf(neigh), neigh, Set.copyOf(fdb), fdb)
                .isEmpty())
        .isTrue();
    Route extra = Route.onlink(Cidr.parse("10.244.1.0/26"), "10.244.1.0", "tweed.vxlan");
    var want = new HashSet<>(routes);
    want.add(extra);
    want.remove(routes.get(0));
    var d = DataplaneDiff.between(want, routes, Set.copyOf(neigh), neigh, Set.copyOf(fdb), fdb);
    assertThat(d.addRoutes()).containsExactly(extra);
    assertThat(d.delRoutes()).containsExactly(routes.get(0));
    assertThat(d.size()).isEqualTo(2);
  }
}
