package dev.tweed.dataplane;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A table as {@code nft list table} prints it, cut into its objects: {@code chain NAME}, {@code set
 * NAME} and {@code map NAME}, each with its text, and {@code table} for the table's own lines. Two
 * listings compared object by object say which chains and sets differ.
 */
public record NftListing(Map<String, String> objects) {
  public NftListing {
    objects = Map.copyOf(objects);
  }

  public static NftListing parse(String listing) {
    Map<String, String> out = new LinkedHashMap<>();
    StringBuilder table = new StringBuilder();
    String current = null;
    StringBuilder body = new StringBuilder();
    for (String line : listing.split("\n")) {
      if (current == null) {
        String t = line.strip();
        if (line.startsWith("\t") && !line.startsWith("\t\t") && t.endsWith("{")) {
          String[] w = t.split(" ");
          current = w[0] + " " + w[1];
          body.setLength(0);
        } else if (!t.isEmpty()) {
          table.append(line).append('\n');
        }
      } else if (line.equals("\t}")) {
        out.put(current, body.toString());
        current = null;
      } else {
        body.append(line).append('\n');
      }
    }
    out.put("table", table.toString());
    return new NftListing(out);
  }
}
