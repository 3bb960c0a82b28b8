package dev.tweed.dataplane.nftnl;

import java.util.ArrayList;
import java.util.List;

/**
 * The words of one line of an nft script: split at blanks, a quoted string kept whole, and a comma
 * that ends a word ({@code { a, b }}) a word of its own.
 */
final class NftTokens {
  private NftTokens() {}

  static List<String> split(String line) {
    List<String> out = new ArrayList<>();
    StringBuilder cur = new StringBuilder();
    boolean quoted = false;
    for (int i = 0; i < line.length(); i++) {
      char c = line.charAt(i);
      if (c == '"') {
        quoted = !quoted;
        cur.append(c);
      } else if (Character.isWhitespace(c) && !quoted) {
        word(out, cur);
      } else {
        cur.append(c);
      }
    }
    if (quoted) {
      throw new IllegalArgumentException("unterminated quote: " + line);
    }
    word(out, cur);
    return out;
  }

  private static void word(List<String> out, StringBuilder cur) {
    if (cur.isEmpty()) {
      return;
    }
    String w = cur.toString();
    cur.setLength(0);
    if (w.length() > 1 && w.endsWith(",") && !w.startsWith("\"")) {
      out.add(w.substring(0, w.length() - 1));
      out.add(",");
    } else {
      out.add(w);
    }
  }
}
