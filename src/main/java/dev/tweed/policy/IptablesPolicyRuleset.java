package dev.tweed.policy;

import dev.tweed.model.IpFamily;
import dev.tweed.rules.IptablesChains;
import dev.tweed.rules.JumpRule;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SortedSet;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * Rendered policy rules for iptables mode in one family (iptables or ip6tables): Tweed's own chains
 * in the raw and filter tables (chain name to its {@code -A} lines), the ipsets they match (of that
 * family), and the jumps from the built-in chains.
 */
public record IptablesPolicyRuleset(
    IpFamily family,
    Map<String, List<String>> raw,
    Map<String, List<String>> filter,
    Map<String, Ipset> ipsets,
    List<JumpRule> jumps) {

  /**
   * An ipset: its name, type ({@code hash:ip}, {@code hash:ip,port}, {@code hash:net}) and entries.
   */
  public record Ipset(String name, String type, SortedSet<String> entries) {
    public Ipset {
      entries = Collections.unmodifiableSortedSet(new TreeSet<>(entries));
    }
  }

  public IptablesPolicyRuleset {
    raw = Collections.unmodifiableMap(new LinkedHashMap<>(raw));
    filter = Collections.unmodifiableMap(new LinkedHashMap<>(filter));
    ipsets = Collections.unmodifiableMap(new TreeMap<>(ipsets));
    jumps = List.copyOf(jumps);
  }

  /** ipset's name of the family: {@code inet} or {@code inet6}. */
  public String ipsetFamily() {
    return family == IpFamily.IPV4 ? "inet" : "inet6";
  }

  /** {@code ipset restore} input that creates every set from scratch. */
  public String ipsetRestoreInput() {
    StringBuilder sb = new StringBuilder();
    for (Ipset s : ipsets.values()) {
      sb.append("create ")
          .append(s.name())
          .append(' ')
          .append(s.type())
          .append(" family ")
          .append(ipsetFamily())
          .append('\n');
      s.entries()
          .forEach(e -> sb.append("add ").append(s.name()).append(' ').append(e).append('\n'));
    }
    return sb.toString();
  }

  /** {@code iptables-restore --noflush} input declaring (flushing) and filling the given chains. */
  public String restoreInput(
      Map<String, List<String>> rawChains,
      Map<String, List<String>> filterChains,
      List<String> deleteRaw,
      List<String> deleteFilter) {
    Map<String, Map<String, List<String>>> write = new LinkedHashMap<>();
    write.put("raw", rawChains);
    write.put("filter", filterChains);
    Map<String, List<String>> delete = new LinkedHashMap<>();
    delete.put("raw", deleteRaw);
    delete.put("filter", deleteFilter);
    return IptablesChains.restoreInput(write, delete);
  }

  /** Everything, for people and golden files: ipsets, then the restore input of every chain. */
  public String render() {
    StringBuilder sb = new StringBuilder("# ipset restore\n");
    sb.append(ipsetRestoreInput());
    sb.append("# jumps: ");
    jumps.forEach(
        j ->
            sb.append("-t ")
                .append(j.table())
                .append(" -I ")
                .append(j.chain())
                .append(' ')
                .append(String.join(" ", j.args()))
                .append("; "));
    sb.append(
        family == IpFamily.IPV4
            ? "\n# iptables-restore --noflush\n"
            : "\n# ip6tables-restore --noflush\n");
    sb.append(restoreInput(raw, filter, List.of(), List.of()));
    return sb.toString();
  }
}
