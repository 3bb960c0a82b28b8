package dev.tweed.dataplane.nftnl;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A table that does not exist yet, built in several batches. In one batch the kernel's cost grows
 * with the square of the table (each rule that binds an anonymous set walks every change of the
 * transaction so far), and a 10,000-service table takes minutes. Built in stages of a few thousand
 * lines, each stage's walk stays short. Nothing of it acts on a packet before the last stage: the
 * earlier ones hold only regular chains, sets and elements, which no hook reaches; the last one
 * adds the base chains and their rules, so traffic sees the whole table at once or none of it.
 */
public final class NftStagedBuild {
  private static final Pattern BASE_CHAIN =
      Pattern.compile("^add chain \\S+ \\S+ (\\S+) \\{ type ");
  private static final Pattern RULE = Pattern.compile("^add rule \\S+ \\S+ (\\S+) ");

  /** Lines per stage: the walk per bound set stays under a few thousand changes. */
  static final int STAGE_LINES = 4000;

  private NftStagedBuild() {}

  /**
   * The stages after the table's creation, for a script that replaces a table ({@link
   * NftBatchOrder#replacesTable}) when that table does not exist: the unhooked objects in stages of
   * {@link #STAGE_LINES}, then the base chains with their rules.
   */
  public static List<NftBatch> stages(List<String> replaceScript) {
    List<String> body = new ArrayList<>();
    List<String> hooked = new ArrayList<>();
    Set<String> baseChains = new HashSet<>();
    for (String l : replaceScript) {
      Matcher b = BASE_CHAIN.matcher(l);
      if (b.find()) {
        baseChains.add(b.group(1));
      }
    }
    for (String l : replaceScript) {
      if (l.startsWith("add table ") || l.startsWith("delete table ")) {
        continue;
      }
      Matcher b = BASE_CHAIN.matcher(l);
      Matcher r = RULE.matcher(l);
      if (b.find() || (r.find() && baseChains.contains(r.group(1)))) {
        hooked.add(l);
      } else {
        body.add(l);
      }
    }
    List<String> ordered = NftBatchOrder.ordered(body);
    List<NftBatch> out = new ArrayList<>();
    for (int from = 0; from < ordered.size(); from += STAGE_LINES) {
      List<String> stage = ordered.subList(from, Math.min(ordered.size(), from + STAGE_LINES));
      out.add(NftScriptCompiler.compileLines(stage));
    }
    out.add(NftScriptCompiler.compileLines(hooked));
    return out;
  }
}
