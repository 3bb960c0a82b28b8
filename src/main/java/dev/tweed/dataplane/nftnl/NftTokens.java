package dev.tweed.dataplane.nftnl;

import java.util.ArrayList;
import java.util.List;

/** The words of one line of an nft script: split at blanks, a quoted string kept whole. */
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
        if (!cur.isEmpty()) {
          out.add(cur.toString());
          cur.setLength(0);
        }
      } else {
        cur.append(c);
      }
    }
    if (quoted) {
      throw new IllegalArgumentException("unterminated quote: " + line);
    }
    if (!cur.isEmpty()) {
      out.add(cur.toString());
    }
    return out;
  }
}
