package dev.tweed.kernel.netfilter;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Parses {@code iptables-save} output into tables, chains and rules. Options are grouped by the
 * module that owns them ({@code -m NAME} starts a module; {@code -j}/{@code -g} the target), and a
 * {@code !} before an option negates it, exactly as iptables-save prints them.
 */
public final class IptablesSaveParser {
  private static final Set<String> BASIC = Set.of("-s", "-d", "-i", "-o", "-p", "-f");

  private IptablesSaveParser() {}

  public static Map<String, XtTable> parse(String save) {
    Map<String, XtTable> tables = new LinkedHashMap<>();
    String table = null;
    Map<String, String> policies = new LinkedHashMap<>();
    Map<String, List<XtRule>> rules = new LinkedHashMap<>();
    int lineNo = 0;
    for (String raw : save.split("\n")) {
      lineNo++;
      String line = raw.strip();
      if (line.isEmpty() || line.startsWith("#")) {
        continue;
      }
      if (line.startsWith("*")) {
        table = line.substring(1);
        policies = new LinkedHashMap<>();
        rules = new LinkedHashMap<>();
      } else if (line.startsWith(":")) {
        String[] f = line.substring(1).split("\\s+");
        policies.put(f[0], f.length > 1 ? f[1] : "-");
        rules.putIfAbsent(f[0], new ArrayList<>());
      } else if (line.equals("COMMIT")) {
        if (table == null) {
          throw new IllegalArgumentException("line " + lineNo + ": COMMIT outside a table");
        }
        Map<String, XtChain> chains = new LinkedHashMap<>();
        for (var e : policies.entrySet()) {
          String p = e.getValue();
          chains.put(
              e.getKey(),
              new XtChain(
                  e.getKey(),
                  p.equals("-") ? Optional.empty() : Optional.of(p),
                  List.copyOf(rules.getOrDefault(e.getKey(), List.of()))));
        }
        tables.put(table, new XtTable(table, chains));
        table = null;
      } else if (line.startsWith("-A ")) {
        if (table == null) {
          throw new IllegalArgumentException("line " + lineNo + ": rule outside a table");
        }
        List<String> words = tokens(line);
        String chain = words.get(1);
        List<XtRule> chainRules = rules.computeIfAbsent(chain, k -> new ArrayList<>());
        chainRules.add(rule(chain, chainRules.size() + 1, words.subList(2, words.size()), line));
      } else {
        throw new IllegalArgumentException("line " + lineNo + ": cannot parse '" + line + "'");
      }
    }
    return tables;
  }

  static XtRule rule(String chain, int position, List<String> words, String text) {
    List<XtMatch> matches = new ArrayList<>();
    List<XtOption> basic = new ArrayList<>();
    String module = null;
    List<XtOption> moduleOptions = new ArrayList<>();
    XtTarget target = null;
    String targetName = null;
    boolean isGoto = false;
    List<XtOption> targetOptions = new ArrayList<>();
    boolean negate = false;
    int i = 0;
    while (i < words.size()) {
      String w = words.get(i);
      if (w.equals("!")) {
        negate = true;
        i++;
        continue;
      }
      if (w.equals("-m")) {
        if (module != null) {
          matches.add(new XtMatch(module, List.copyOf(moduleOptions)));
        }
        module = words.get(i + 1);
        moduleOptions = new ArrayList<>();
        i += 2;
        continue;
      }
      if (w.equals("-j") || w.equals("-g")) {
        targetName = words.get(i + 1);
        isGoto = w.equals("-g");
        i += 2;
        // Everything after the target belongs to it.
        while (i < words.size()) {
          boolean neg = false;
          if (words.get(i).equals("!")) {
            neg = true;
            i++;
          }
          String name = words.get(i++);
          List<String> args = new ArrayList<>();
          while (i < words.size() && !isOption(words.get(i))) {
            args.add(words.get(i++));
          }
          targetOptions.add(new XtOption(name, neg, List.copyOf(args)));
        }
        continue;
      }
      if (w.equals("-c")) {
        i += 3;
        continue;
      }
      i++;
      List<String> args = new ArrayList<>();
      while (i < words.size() && !isOption(words.get(i))) {
        args.add(words.get(i++));
      }
      XtOption o = new XtOption(w, negate, List.copyOf(args));
      negate = false;
      if (BASIC.contains(w) || module == null) {
        basic.add(o);
      } else {
        moduleOptions.add(o);
      }
    }
    if (module != null) {
      matches.add(new XtMatch(module, List.copyOf(moduleOptions)));
    }
    if (!basic.isEmpty()) {
      matches.add(0, new XtMatch("", List.copyOf(basic)));
    }
    if (targetName != null) {
      target = new XtTarget(targetName, isGoto, List.copyOf(targetOptions));
    }
    return new XtRule(chain, position, List.copyOf(matches), Optional.ofNullable(target), text);
  }

  private static boolean isOption(String w) {
    return w.equals("!")
        || (w.startsWith("-") && w.length() > 1 && !Character.isDigit(w.charAt(1)));
  }

  /** Splits a line as iptables-save quotes it: "..." with backslash escapes. */
  static List<String> tokens(String line) {
    List<String> out = new ArrayList<>();
    StringBuilder cur = new StringBuilder();
    boolean inQuote = false;
    boolean any = false;
    for (int i = 0; i < line.length(); i++) {
      char c = line.charAt(i);
      if (inQuote) {
        if (c == '\\' && i + 1 < line.length()) {
          cur.append(line.charAt(++i));
        } else if (c == '"') {
          inQuote = false;
        } else {
          cur.append(c);
        }
      } else if (c == '"') {
        inQuote = true;
        any = true;
      } else if (Character.isWhitespace(c)) {
        if (any || !cur.isEmpty()) {
          out.add(cur.toString());
          cur.setLength(0);
          any = false;
        }
      } else {
        cur.append(c);
      }
    }
    if (any || !cur.isEmpty()) {
      out.add(cur.toString());
    }
    return out;
  }
}
