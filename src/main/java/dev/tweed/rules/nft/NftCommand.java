package dev.tweed.rules.nft;

import java.util.List;
import java.util.Optional;
import java.util.stream.Collectors;

/**
 * One command of an nftables transaction on a table of family {@code ip}, as a value. {@link
 * #script} prints it as a line of an {@code nft -f} script.
 */
public sealed interface NftCommand {
  String table();

  String script();

  /** {@code add table ip T [{ comment "..." ; }]}. */
  record AddTable(String table, Optional<String> comment) implements NftCommand {
    public String script() {
      return "add table ip " + table + comment.map(c -> " { comment \"" + c + "\" ; }").orElse("");
    }
  }

  /** {@code delete table ip T}. */
  record DeleteTable(String table) implements NftCommand {
    public String script() {
      return "delete table ip " + table;
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

    public String script() {
      String props =
          hook.map(Hook::script).orElse("")
              + comment
                  .map(c -> (hook.isPresent() ? " " : "") + "comment \"" + c + "\" ;")
                  .orElse("");
      return "add chain ip " + table + " " + name + (props.isEmpty() ? "" : " { " + props + " }");
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

    public static AddSet of(String table, String name, List<String> keyTypes, String comment) {
      return new AddSet(
          table, name, keyTypes, false, false, Optional.empty(), Optional.ofNullable(comment));
    }

    public static AddSet verdictMap(
        String table, String name, List<String> keyTypes, String comment) {
      return new AddSet(
          table, name, keyTypes, true, false, Optional.empty(), Optional.ofNullable(comment));
    }

    public String script() {
      return (verdictMap ? "add map ip " : "add set ip ")
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

    public String script() {
      return "add rule ip "
          + table
          + " "
          + chain
          + " "
          + statements.stream().map(NftStatement::script).collect(Collectors.joining(" "))
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

    public String script() {
      return (delete ? "delete element ip " : "add element ip ")
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
    public String script() {
      return "flush " + kind.word() + " ip " + table + " " + name;
    }
  }

  /** {@code delete chain|set|map ip T NAME}. */
  record Delete(Kind kind, String table, String name) implements NftCommand {
    public String script() {
      return "delete " + kind.word() + " ip " + table + " " + name;
    }
  }
}
