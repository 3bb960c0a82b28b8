package dev.tweed.bench;

import dev.tweed.proxy.IptablesServiceRenderer;
import dev.tweed.proxy.NftablesServiceRenderer;
import dev.tweed.proxy.ProxyNode;
import dev.tweed.proxy.ServicePort;
import java.util.List;
import java.util.Map;
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
 * Rule generation alone (no kernel) for N services with 10 endpoints each: a full render from a
 * cold renderer; the whole render after one endpoint changed, which reuses every other port; and
 * the update with that one Service alone, as the agent renders a change.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Fork(
    value = 1,
    jvmArgsAppend = {"-Xmx2g"})
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
public class RuleGenerationBenchmark {
  private static final ProxyNode NODE = new ProxyNode("bench-node", "10.244.0.0/16", List.of());

  @Param({"10000"})
  int services;

  List<ServicePort> ports;
  List<ServicePort> oneChanged;
  IptablesServiceRenderer warmIptables;
  NftablesServiceRenderer warmNftables;
  boolean flip;

  @Setup
  public void setup() {
    ports = ServiceSyncBenchmark.services(services, 10, 0);
    oneChanged = ServiceSyncBenchmark.services(services, 10, 1);
    warmIptables = new IptablesServiceRenderer(NODE);
    warmIptables.render(ports);
    warmNftables = new NftablesServiceRenderer(NODE, "10.96.0.0/16");
    warmNftables.render(ports);
  }

  @Benchmark
  public Object iptablesFull() {
    return new IptablesServiceRenderer(NODE).render(ports);
  }

  @Benchmark
  public Object nftablesFull() {
    return new NftablesServiceRenderer(NODE, "10.96.0.0/16").render(ports);
  }

  /** Alternates between two states that differ in one endpoint of one service. */
  @Benchmark
  public Object iptablesOneEndpointChanged() {
    flip = !flip;
    return warmIptables.render(flip ? oneChanged : ports);
  }

  @Benchmark
  public Object nftablesOneEndpointChanged() {
    flip = !flip;
    return warmNftables.render(flip ? oneChanged : ports);
  }

  /** The agent's way: the one Service that changed, as the calculation graph hands it on. */
  @Benchmark
  public Object iptablesOneServiceUpdated() {
    flip = !flip;
    return warmIptables.update(lastService(flip ? oneChanged : ports));
  }

  @Benchmark
  public Object nftablesOneServiceUpdated() {
    flip = !flip;
    return warmNftables.update(lastService(flip ? oneChanged : ports));
  }

  private static Map<String, List<ServicePort>> lastService(List<ServicePort> all) {
    ServicePort last = all.getLast();
    return Map.of(last.namespace() + "/" + last.name(), List.of(last));
  }
}
