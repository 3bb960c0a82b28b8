package dev.tweed.dataplane;

import dev.tweed.dataplane.nftnl.NftBatch;
import dev.tweed.dataplane.nftnl.NftScriptCompiler;
import dev.tweed.sys.Command;
import dev.tweed.sys.NetworkNamespace;
import dev.tweed.sys.NfTablesSocket;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * How an nft script reaches the kernel, in one transaction either way: by {@code nft -f}, which
 * first lists the whole ruleset (at 10,000 services that listing is most of a one-line change's
 * cost), or as a netlink batch written from Java, which sends only the change.
 */
public sealed interface NftScriptApplier {
  /** Applies {@code script} whole or not at all; throws if the kernel refused it. */
  void apply(String script);

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

    public void apply(String script) {
      List<String> argv = new ArrayList<>(commandPrefix);
      argv.addAll(List.of("nft", "-f", "-"));
      Command.Result r =
          Command.exec(
              argv,
              script.getBytes(java.nio.charset.StandardCharsets.UTF_8),
              java.util.Map.of(),
              timeoutSeconds);
      if (!r.ok()) {
        throw new dev.tweed.sys.CommandFailedException(argv, script, r.exitCode(), r.stderr());
      }
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

    public void apply(String script) {
      NftBatch batch;
      try {
        batch = NftScriptCompiler.compile(script);
      } catch (NftScriptCompiler.UnsupportedLineException e) {
        LOG.warn("event=nft-netlink-fallback reason=\"{}\"", e.getMessage());
        fallback.apply(script);
        return;
      }
      if (netns.isEmpty()) {
        commit(batch);
        return;
      }
      try {
        NetworkNamespace.call(
            netns.get(),
            () -> {
              commit(batch);
              return null;
            });
      } catch (RuntimeException e) {
        throw e;
      } catch (Exception e) {
        throw new IllegalStateException(e);
      }
    }

    private static void commit(NftBatch batch) {
      try (NfTablesSocket s = NfTablesSocket.open()) {
        batch.commit(s);
      }
    }

    public String name() {
      return "netlink";
    }
  }
}
