package dev.tweed.rules;

import dev.tweed.model.IpFamily;
import dev.tweed.rules.nft.NftCommand;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * A rendered nftables ruleset: the table's fixed skeleton (sets, verdict maps, base chains) and,
 * per service port (or policy endpoint), its chains and the elements that lead to them, as
 * commands, in a table of one family ({@code ip} or {@code ip6}: kube-proxy writes one table per
 * family, not an {@code inet} one). {@link #render} prints them as an {@code nft -f} script in the
 * form of kube-proxy's nftables transactions.
 */
public record NftablesRuleset(
    IpFamily family, String table, List<NftCommand> base, Map<String, List<NftCommand>> services) {
  /**
   * {@code services} is taken over, not copied (a render at 10,000 Services would copy 10,000
   * entries on every change): the caller hands over a map it no longer changes.
   */
  public NftablesRuleset {
    base = List.copyOf(base);
    services = Collections.unmodifiableMap(services);
  }

  /** The whole ruleset's commands, as kube-proxy would write them to an empty table. */
  public List<NftCommand> commands() {
    List<NftCommand> out = new ArrayList<>(base);
    // Every declaration first: a rule of one block may refer to a chain or set of another.
    List<NftCommand> all = new ArrayList<>();
    services.values().forEach(all::addAll);
    out.addAll(declarationsFirst(all));
    return out;
  }

  /** The whole ruleset as a script. */
  public String render() {
    return script(family, commands());
  }

  /** A block's chains and sets first: its rules (and other blocks') may jump to any of them. */
  public static List<NftCommand> declarationsFirst(List<NftCommand> commands) {
    List<NftCommand> out = new ArrayList<>(commands.size());
    for (NftCommand c : commands) {
      if (declaration(c)) {
        out.add(c);
      }
    }
    for (NftCommand c : commands) {
      if (!declaration(c)) {
        out.add(c);
      }
    }
    return out;
  }

  private static boolean declaration(NftCommand c) {
    return c instanceof NftCommand.AddChain || c instanceof NftCommand.AddSet s && !s.verdictMap();
  }

  /** The commands that replace the table whole in one transaction. */
  public List<NftCommand> replaceCommands() {
    List<NftCommand> out = new ArrayList<>();
    out.add(new NftCommand.AddTable(table, Optional.empty()));
    out.add(new NftCommand.DeleteTable(table));
    out.addAll(commands());
    return out;
  }

  /** The same, as a script. */
  public String replaceScript() {
    return script(family, replaceCommands());
  }

  /** Commands on {@code family}'s tables as script lines. */
  public static String script(IpFamily family, List<? extends NftCommand> commands) {
    StringBuilder sb = new StringBuilder();
    commands.forEach(c -> sb.append(c.script(family)).append('\n'));
    return sb.toString();
  }
}
