package dev.tweed.bench;

import dev.tweed.dataplane.NftablesWriter;
import dev.tweed.lab.Namespaces;
import dev.tweed.proxy.NftablesServiceRenderer;
import dev.tweed.proxy.ProxyNode;
import dev.tweed.proxy.ServicePort;
import dev.tweed.sys.Command;
import java.util.ArrayList;
import java.util.List;

/**
 * The service proxy's nftables writers side by side, in one run and one scratch namespace each:
 * netlink batches from Java against {@code nft -f}. Per writer: a full sync of N services with M
 * endpoints each, then one endpoint of one service changed, one service added and one removed
 * (partial syncs), each end to end (render, write, the kernel's answer), medians of several (one
 * full sync per writer at 10,000 services and more). For the endpoint change, the write alone
 * (encoding or nft, and the kernel) is reported too: the rest is Tweed's render and diff.
 */
public final class NftWriterBenchmark {
  /** One measured case: medians in milliseconds, and the share of them that was Tweed's own. */
  public record Result(
      String mode,
      String writer,
      int services,
      int endpointsPerService,
      double fullSyncMs,
      double endpointChangeMs,
      double serviceAddMs,
      double serviceRemoveMs,
      double fullSyncTweedShare,
      double endpointChangeWriteMs) {}

  private NftWriterBenchmark() {}

  public static List<Result> run(int n, int endpoints, int rounds) {
    List<Result> out = new ArrayList<>();
    for (boolean nft : List.of(true, false)) {
      String ns = "tw-bench-nftw" + (nft ? "n" : "l") + n;
      Namespaces.delete(ns);
      Namespaces.add(ns);
      try {
        out.add(measure(ns, nft, n, endpoints, rounds));
      } finally {
        Namespaces.delete(ns);
      }
    }
    return out;
  }

  private static Result measure(String ns, boolean nft, int n, int endpoints, int rounds) {
    var renderer =
        new NftablesServiceRenderer(
            new ProxyNode("bench-node", "10.244.0.0/16", List.of()), "10.96.0.0/16");
    List<ServicePort> all = ServiceSyncBenchmark.services(n, endpoints, 0);
    List<Double> full = new ArrayList<>();
    List<Double> fullRender = new ArrayList<>();
    NftablesWriter writer = null;
    // nft -f takes minutes for a full sync at 10,000 services: one there.
    int fullRounds = n >= 10_000 ? 1 : rounds;
    for (int r = 0; r < fullRounds; r++) {
      // A new writer knows nothing of the kernel: its first sync writes the table whole.
      writer = NftablesWriter.inNamespace(ns, nft, 1800);
      long t0 = System.nanoTime();
      var rendered = renderer.render(all);
      long t1 = System.nanoTime();
      writer.sync(rendered, true);
      long t2 = System.nanoTime();
      full.add((t2 - t0) / 1e6);
      fullRender.add((t1 - t0) / 1e6);
    }
    List<ServicePort> fewer = ServiceSyncBenchmark.services(n, endpoints, 1);
    List<ServicePort> more = new ArrayList<>(all);
    more.add(ServiceSyncBenchmark.services(n + 1, endpoints, 0).getLast());
    List<Double> change = new ArrayList<>();
    List<Double> changeWrite = new ArrayList<>();
    List<Double> add = new ArrayList<>();
    List<Double> remove = new ArrayList<>();
    for (int r = 0; r < rounds; r++) {
      long t0 = System.nanoTime();
      var stats = writer.sync(renderer.render(fewer), false);
      change.add((System.nanoTime() - t0) / 1e6);
      changeWrite.add(stats.restoreNanos() / 1e6);
      partial(writer, renderer, all);
      add.add(partial(writer, renderer, more));
      remove.add(partial(writer, renderer, all));
    }
    // The table must be what the last sync wrote: a check that the figures are of real writes.
    String listing =
        Command.run(
            List.of("ip", "netns", "exec", ns, "nft", "list", "table", "ip", "tweed-proxy"));
    if (!listing.contains(all.getLast().clusterIp())) {
      throw new IllegalStateException("the " + writer.writer() + " writer left no last service");
    }
    double fullMs = Stats.of(full).median();
    return new Result(
        "nftables",
        writer.writer(),
        n,
        endpoints,
        fullMs,
        Stats.of(change).median(),
        Stats.of(add).median(),
        Stats.of(remove).median(),
        Stats.of(fullRender).median() / fullMs,
        Stats.of(changeWrite).median());
  }

  private static double partial(
      NftablesWriter writer, NftablesServiceRenderer renderer, List<ServicePort> ports) {
    long t0 = System.nanoTime();
    writer.sync(renderer.render(ports), false);
    return (System.nanoTime() - t0) / 1e6;
  }
}
