package dev.tweed.dataplane;

import dev.tweed.dataplane.nftnl.NftBatch;
import dev.tweed.dataplane.nftnl.NftBatchOrder;
import dev.tweed.dataplane.nftnl.NftScriptCompiler;
import dev.tweed.dataplane.nftnl.NftStagedBuild;
import dev.tweed.sys.Command;
import dev.tweed.sys.CommandFailedException;
import dev.tweed.sys.NetworkNamespace;
import dev.tweed.sys.NfTablesSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * How an nft script reaches the kernel, in one transaction either way: by {@code nft -f}, which
 * first lists the whole ruleset (at 10,000 services that listing is most of a one-line change's
 * cost), or as a netlink batch written from Java, which sends only the change.
 */
public sealed interface NftScriptApplier {
  /**
   * Applies {@code script} whole or not at all; throws if the kernel refused it. Returns the
   * nanoseconds spent waiting for the kernel (for {@code nft -f}, the whole run of nft; by netlink,
   * the commits alone, not the compiling and encoding before them).
   */
  long apply(String script);

  /** "nft" or "netlink", as benchmarks report the writer. */
  String name();

  /**
   * {@code nft -f -}, run with {@code commandPrefix} (e.g. {@code ip netns exec NS}), given {@code
   * timeoutSeconds}.
   */
  record Nft(List<String> commandPrefix, long timeoutSeconds) implements NftScriptApplier {
    public Nft {
      commandPrefix = List.copyOf(commandPrefix);
    }

    public Nft(List<String> commandPrefix) {
      this(commandPrefix, 120);
    }

    public long apply(String script) {
      long start = System.nanoTime();
      List<String> argv = new ArrayList<>(commandPrefix);
      argv.addAll(List.of("nft", "-f", "-"));
      Command.Result r =
          Command.exec(argv, script.getBytes(StandardCharsets.UTF_8), Map.of(), timeoutSeconds);
      if (!r.ok()) {
        throw new CommandFailedException(argv, script, r.exitCode(), r.stderr());
      }
      return System.nanoTime() - start;
    }

    public String name() {
      return "nft";
    }
  }

  /**
   * A netlink batch, in {@code netns} (or the caller's namespace). A script with a line the
   * compiler does not know goes to {@code nft -f} instead, said once in the log: the result is the
   * same, only slower.
   */
  record Netlink(Optional<Path> netns, Nft fallback) implements NftScriptApplier {
    private static final Logger LOG = LoggerFactory.getLogger(NftScriptApplier.class);

    public long apply(String script) {
      List<String> lines = new ArrayList<>();
      for (String l : script.split("\n")) {
        if (!l.isBlank()) {
          lines.add(l.strip());
        }
      }
      // A script that replaces a table: when the table does not exist, it is built in stages
      // (NftStagedBuild); when it does, replaced in one batch.
      boolean replaces = NftBatchOrder.replacesTable(lines);
      try {
        NftBatch create = replaces ? NftScriptCompiler.createTable(lines.getFirst()) : null;
        NftBatch whole = replaces ? null : NftScriptCompiler.compile(script);
        long[] kernel = {0};
        inNamespace(
            () -> {
              try (NfTablesSocket s = NfTablesSocket.open()) {
                long start = System.nanoTime();
                if (whole != null) {
                  whole.commit(s);
                } else if (create.commitUnlessExisting(s)) {
                  build(s, lines.getFirst(), lines);
                } else {
                  NftBatch replace = NftScriptCompiler.compile(script);
                  start = System.nanoTime();
                  replace.commit(s);
                }
                kernel[0] = System.nanoTime() - start;
              }
            });
        return kernel[0];
      } catch (NftScriptCompiler.UnsupportedLineException e) {
        // Nothing was committed but, perhaps, the new table's empty shell, which nft replaces.
        LOG.warn("event=nft-netlink-fallback reason=\"{}\"", e.getMessage());
        return fallback.apply(script);
      }
    }

    /**
     * The stages of a new table; if one is refused (or cannot be compiled), the table is deleted
     * again.
     */
    private static void build(NfTablesSocket s, String addTable, List<String> lines) {
      try {
        for (NftBatch stage : NftStagedBuild.stages(lines)) {
          stage.commit(s);
        }
      } catch (RuntimeException e) {
        String table = addTable.split(" ")[3];
        try {
          NftScriptCompiler.compile("delete table ip " + table).commit(s);
        } catch (RuntimeException cleanup) {
          e.addSuppressed(cleanup);
        }
        throw e;
      }
    }

    private void inNamespace(Runnable r) {
      if (netns.isEmpty()) {
        r.run();
        return;
      }
      try {
        NetworkNamespace.call(
            netns.get(),
            () -> {
              r.run();
              return null;
            });
      } catch (RuntimeException e) {
        throw e;
      } catch (Exception e) {
        throw new IllegalStateException(e);
      }
    }

    public String name() {
      return "netlink";
    }
  }
}
