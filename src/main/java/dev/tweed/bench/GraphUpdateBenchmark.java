package dev.tweed.bench;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tweed.calc.ClusterState;
import dev.tweed.calc.NodeDataplaneCalculator;
import dev.tweed.calc.RouteResolver;
import dev.tweed.model.Cidr;
import dev.tweed.model.EndpointSliceResource;
import dev.tweed.model.IpamBlock;
import dev.tweed.model.Ipv4;
import dev.tweed.model.NodeResource;
import dev.tweed.model.ServiceResource;
import dev.tweed.proxy.ServicePortIndex;
import dev.tweed.proxy.ServicePortResolver;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The calculation graph's cost of one change, before and after it became incremental, in one run: a
 * remote node's block changing at N nodes (routes computed from scratch, as every pass did, against
 * the route resolver's update), and one endpoint changing at S Services (every Service resolved
 * again from the stored JSON, as the proxy's pass did, against the service index's update).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(
    value = 1,
    jvmArgsAppend = {"-Xmx2g"})
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
public class GraphUpdateBenchmark {
  @Param({"1000"})
  int nodes;

  @Param({"10000"})
  int services;

  private List<NodeResource> nodeList;
  private List<IpamBlock> blocks;
  private RouteResolver resolver;
  private NodeDataplaneCalculator scratch;
  private IpamBlock moved;

  private List<JsonNode> serviceJson;
  private List<JsonNode> sliceJson;
  private ServicePortIndex index;
  private JsonNode slice;
  private JsonNode sliceChanged;
  private boolean flip;

  @Setup
  public void setup() {
    nodeList = new ArrayList<>();
    blocks = new ArrayList<>();
    resolver = new RouteResolver("node-0", true, false);
    scratch = new NodeDataplaneCalculator("node-0", true, false);
    for (int n = 0; n < nodes; n++) {
      NodeResource node = new NodeResource("node-" + n, Ipv4.format(Ipv4.parse("172.16.0.0") + n));
      IpamBlock block = new IpamBlock(block(n), node.name(), Map.of());
      nodeList.add(node);
      blocks.add(block);
      resolver.node(node.name(), Optional.of(node));
      resolver.block("IPAMBlock/b" + n, Optional.of(block));
    }
    // A second block for node-1 comes and goes: its routes change, every other node's stay.
    moved = new IpamBlock(block(nodes), "node-1", Map.of());
    serviceJson = new ArrayList<>();
    sliceJson = new ArrayList<>();
    index = new ServicePortIndex();
    for (int s = 0; s < services; s++) {
      JsonNode svc = EbpfServiceSyncBenchmark.service(s);
      JsonNode sl = EbpfServiceSyncBenchmark.slice(s, 10, 0);
      serviceJson.add(svc);
      sliceJson.add(sl);
      index.service("bench", "svc-" + s, Optional.of(ServiceResource.from(svc)));
      index.slice("bench", "svc-" + s + "-1", Optional.of(EndpointSliceResource.from(sl)));
    }
    index.ports();
    slice = sliceJson.getFirst();
    sliceChanged = EbpfServiceSyncBenchmark.slice(0, 10, 1);
  }

  private static Cidr block(int n) {
    return Cidr.parse(Ipv4.format(Ipv4.parse("10.0.0.0") + 64 * n) + "/26");
  }

  /** Before: every pass with a route change computed the node's routes from all resources. */
  @Benchmark
  public Object routesFromScratch() {
    flip = !flip;
    List<IpamBlock> now = new ArrayList<>(blocks);
    if (flip) {
      now.add(moved);
    }
    return scratch.calculate(new ClusterState(nodeList, now, List.of()));
  }

  /** After: the block's update recomputes its node's share; the dataplane is assembled. */
  @Benchmark
  public Object routesIncremental() {
    flip = !flip;
    resolver.block("IPAMBlock/moved", flip ? Optional.of(moved) : Optional.empty());
    return resolver.dataplane();
  }

  /** Before: the standard datapath's proxy resolved every Service from the stored JSON. */
  @Benchmark
  public Object servicePortsResolveAll() {
    flip = !flip;
    List<JsonNode> slices = new ArrayList<>(sliceJson);
    slices.set(0, flip ? sliceChanged : slice);
    return ServicePortResolver.resolve(serviceJson, slices);
  }

  /** After: the slice's update resolves its Service again; every port is read from the index. */
  @Benchmark
  public Object servicePortsIndexed() {
    flip = !flip;
    // The slice is read as the graph reads an update: parsed once, then indexed.
    index.slice(
        "bench", "svc-0-1", Optional.of(EndpointSliceResource.from(flip ? sliceChanged : slice)));
    return index.ports();
  }
}
