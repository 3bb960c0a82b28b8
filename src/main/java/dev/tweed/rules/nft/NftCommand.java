package dev.tweed.rules.nft;

import dev.tweed.model.IpFamily;
import java.util.List;
import java.util.Optional;
import java.util.stream.Collectors;

/**
 * One command of an nftables transaction, as a value. A command names its table, not the table's
 * family: a transaction acts on one family's tables ({@code ip} or {@code ip6}), as an nft script's
 * {@code table ip6 T { ... }} block does, and the same commands serve either family. {@link
 * #script} prints it as a line of an {@code nft -f} script for the family.
 */
public sealed interface NftCommand {
  String table();

  String script(IpFamily family);

  /** nft's name of a family of tables: {@code ip} or {@code ip6}. */
  static String family(IpFamily family) {
    return family == IpFamily.IPV4 ? "ip" : "ip6";
  }

  /** {@code add table ip T [{ comment "..." ; }]}. */
  record AddTable(String table, Optional<String> comment) implements NftCommand {
    public String script(IpFamily family) {
      return "add table "
          + family(family)
          + " "
          + table
          + comment.map(c -> " { comment \"" + c + "\" ; }").orElse("");
    }
  }

  /** {@code delete table ip T}. */
  record DeleteTable(String table) implements NftCommand {
    public String script(IpFamily family) {
      return "delete table " + family(family) + " " + table;
    }
  }

  /**
   * Where a base chain hangs: its type, hook and priority (as written: a number, or nft's name for
   * one with an offset, {@code filter - 5}), and its policy when said.
   */
  record Hook(String type, String hook, String priority, Optional<String> policy) {
    String script() {
      return "type "
          + type
          + " hook "
          + hook
          + " priority "
          + priority
          + " ;"
          + policy.map(p -> " policy " + p + " ;").orElse("");
    }
  }

  /** {@code add chain ip T NAME [{ type ... hook ... priority ... ; }|{ comment "..." ; }]}. */
  record AddChain(String table, String name, Optional<Hook> hook, Optional<String> comment)
      implements NftCommand {
    public static AddChain regular(String table, String name) {
      return new AddChain(table, name, Optional.empty(), Optional.empty());
    }

    public static AddChain base(String table, String name, Hook hook) {
      return new AddChain(table, name, Optional.of(hook), Optional.empty());
    }

    /**
     * A base chain's declaration with its policy said: nft leaves an existing chain's policy alone
     * when the declaration does not name one, and the default (accept) is what Tweed's chains have.
     */
    public AddChain withPolicy() {
      return hook.filter(h -> h.policy().isEmpty())
          .map(
              h ->
                  new AddChain(
                      table,
                      name,
                      Optional.of(
                          new Hook(h.type(), h.hook(), h.priority(), Optional.of("accept"))),
                      comment))
          .orElse(this);
    }

    public String script(IpFamily family) {
      String props =
          hook.map(Hook::script).orElse("")
              + comment
                  .map(c -> (hook.isPresent() ? " " : "") + "comment \"" + c + "\" ;")
                  .orElse("");
      return "add chain "
          + family(family)
          + " "
          + table
          + " "
          + name
          + (props.isEmpty() ? "" : " { " + props + " }");
    }
  }

  /**
   * {@code add set|map ip T NAME { type K [. K] [: verdict] ; [flags dynamic,timeout ;] [timeout Ns
   * ;] [comment "..." ;] }}: a named set, or (with {@code verdictMap}) a verdict map.
   */
  record AddSet(
      String table,
      String name,
      List<String> keyTypes,
      boolean verdictMap,
      boolean dynamicWithTimeout,
      Optional<Long> timeoutSeconds,
      Optional<String> comment)
      implements NftCommand {
    public AddSet {
      keyTypes = List.copyOf(keyTypes);
    }

    /** nft's type of a family's addresses: {@code ipv4_addr} or {@code ipv6_addr}. */
    public static String addressType(IpFamily family) {
      return family == IpFamily.IPV4 ? "ipv4_addr" : "ipv6_addr";
    }

    public static AddSet of(String table, String name, List<String> keyTypes, String comment) {
      return new AddSet(
          table, name, keyTypes, false, false, Optional.empty(), Optional.ofNullable(comment));
    }

    public static AddSet verdictMap(
        String table, String name, List<String> keyTypes, String comment) {
      return new AddSet(
          table, name, keyTypes, true, false, Optional.empty(), Optional.ofNullable(comment));
    }

    public String script(IpFamily family) {
      return (verdictMap ? "add map " : "add set ")
          + family(family)
          + " "
          + table
          + " "
          + name
          + " { type "
          + String.join(" . ", keyTypes)
          + (verdictMap ? " : verdict" : "")
          + " ;"
          + (dynamicWithTimeout ? " flags dynamic,timeout ;" : "")
          + timeoutSeconds.map(s -> " timeout " + s + "s ;").orElse("")
          + comment.map(c -> " comment \"" + c + "\" ;").orElse("")
          + " }";
    }
  }

  /** {@code add rule ip T CHAIN STATEMENT... [comment "..."]}. */
  record AddRule(
      String table, String chain, List<NftStatement> statements, Optional<String> comment)
      implements NftCommand {
    public AddRule {
      statements = List.copyOf(statements);
    }

    public static AddRule of(String table, String chain, NftStatement... statements) {
      return new AddRule(table, chain, List.of(statements), Optional.empty());
    }

    public AddRule commented(String text) {
      return new AddRule(table, chain, statements, Optional.of(text));
    }

    public String script(IpFamily family) {
      return "add rule "
          + family(family)
          + " "
          + table
          + " "
          + chain
          + " "
          + statements.stream().map(st -> st.script(family)).collect(Collectors.joining(" "))
          + comment.map(c -> " comment \"" + c + "\"").orElse("");
    }
  }

  /** {@code add|delete element ip T SET { E, ... }} (a delete names the elements' keys). */
  record Elements(boolean delete, String table, String set, List<NftElement> elements)
      implements NftCommand {
    public Elements {
      elements = List.copyOf(elements);
      if (elements.isEmpty()) {
        throw new IllegalArgumentException("no elements for " + set);
      }
    }

    public static Elements add(String table, String set, NftElement... elements) {
      return new Elements(false, table, set, List.of(elements));
    }

    public String script(IpFamily family) {
      return (delete ? "delete element " : "add element ")
          + family(family)
          + " "
          + table
          + " "
          + set
          + " { "
          + elements.stream()
              .map(e -> delete ? e.keyScript() : e.script())
              .collect(Collectors.joining(", "))
          + " }";
    }
  }

  /** What a flush or delete names: a chain, a set or a verdict map. */
  enum Kind {
    CHAIN,
    SET,
    MAP;

    String word() {
      return name().toLowerCase();
    }
  }

  /** {@code flush chain|set|map ip T NAME}: its rules or elements removed. */
  record Flush(Kind kind, String table, String name) implements NftCommand {
    public String script(IpFamily family) {
      return "flush " + kind.word() + " " + family(family) + " " + table + " " + name;
    }
  }

  /** {@code delete chain|set|map ip T NAME}. */
  record Delete(Kind kind, String table, String name) implements NftCommand {
    public String script(IpFamily family) {
      return "delete " + kind.word() + " " + family(family) + " " + table + " " + name;
    }
  }
}
