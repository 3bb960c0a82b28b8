package dev.tweed.cli;

import java.util.List;

/** kubectl-style columns: left-aligned, three spaces apart. */
final class Tables {
  private Tables() {}

  static void print(List<String[]> rows) {
    int cols = rows.get(0).length;
    int[] w = new int[cols];
    for (String[] r : rows) {
      for (int i = 0; i < cols; i++) {
        w[i] = Math.max(w[i], r[i].length());
      }
    }
    for (String[] r : rows) {
      StringBuilder sb = new StringBuilder();
      for (int i = 0; i < cols; i++) {
        sb.append(i == cols - 1 ? r[i] : String.format("%-" + (w[i] + 3) + "s", r[i]));
      }
      System.out.println(sb.toString().stripTrailing());
    }
  }
}
