package dev.tweed.dataplane;

import dev.tweed.dataplane.nftnl.NftBatch;
import dev.tweed.dataplane.nftnl.NftBatchOrder;
import dev.tweed.dataplane.nftnl.NftEncoder;
import dev.tweed.dataplane.nftnl.NftStagedBuild;
import dev.tweed.model.IpFamily;
import dev.tweed.rules.NftablesRuleset;
import dev.tweed.rules.nft.NftCommand;
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

/**
 * How nftables commands reach the kernel, in one transaction either way: as a script run by {@code
 * nft -f}, which first lists the whole ruleset (at 10,000 services that listing is most of a
 * one-line change's cost), or as a netlink batch encoded from the commands themselves, which sends
 * only the change.
 */
public sealed interface NftApplier {
  /**
   * Applies {@code commands} on {@code family}'s tables whole or not at all; throws if the kernel
   * refused them. Returns the nanoseconds spent waiting for the kernel (for {@code nft -f}, the
   * whole run of nft; by netlink, the commits alone, not the encoding before them).
   */
  long apply(IpFamily family, List<NftCommand> commands);

  /** "nft" or "netlink", as benchmarks report the writer. */
  String name();

  /**
   * {@code nft -f -}, run with {@code commandPrefix} (e.g. {@code ip netns exec NS}), given {@code
   * timeoutSeconds}.
   */
  record Nft(List<String> commandPrefix, long timeoutSeconds) implements NftApplier {
    public Nft {
      commandPrefix = List.copyOf(commandPrefix);
    }

    public Nft(List<String> commandPrefix) {
      this(commandPrefix, 120);
    }

    public long apply(IpFamily family, List<NftCommand> commands) {
      long start = System.nanoTime();
      String script = NftablesRuleset.script(family, commands);
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

  /** A netlink batch, in {@code netns} (or the caller's namespace). */
  record Netlink(Optional<Path> netns) implements NftApplier {
    public long apply(IpFamily family, List<NftCommand> commands) {
      // Commands that replace a table: when the table does not exist, it is built in stages
      // (NftStagedBuild); when it does, replaced in one batch.
      boolean replaces = NftBatchOrder.replacesTable(commands);
      NftCommand.AddTable table = replaces ? (NftCommand.AddTable) commands.getFirst() : null;
      NftBatch whole = replaces ? null : NftEncoder.encode(family, commands);
      long[] kernel = {0};
      inNamespace(
          () -> {
            try (NfTablesSocket s = NfTablesSocket.open()) {
              long start = System.nanoTime();
              if (whole != null) {
                whole.commit(s);
              } else if (NftEncoder.createTable(family, table).commitUnlessExisting(s)) {
                build(s, family, table, commands);
              } else {
                NftBatch replace = NftEncoder.encode(family, NftBatchOrder.ordered(commands));
                start = System.nanoTime();
                replace.commit(s);
              }
              kernel[0] = System.nanoTime() - start;
            }
          });
      return kernel[0];
    }

    /** The stages of a new table; if one is refused, the table is deleted again. */
    private static void build(
        NfTablesSocket s, IpFamily family, NftCommand.AddTable table, List<NftCommand> all) {
      try {
        for (NftBatch stage : NftStagedBuild.stages(family, all)) {
          stage.commit(s);
        }
      } catch (RuntimeException e) {
        try {
          NftEncoder.encode(family, List.of(new NftCommand.DeleteTable(table.table()))).commit(s);
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
