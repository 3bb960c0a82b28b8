package dev.tweed.model;

import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;

/**
 * A mode chosen by name on a command line or in a lab's state ({@code iptables}, {@code ebpf},
 * {@code bgp}, ...): parsed once at the edge into its enum, so that nothing further in compares
 * strings.
 */
public interface Mode {
  /** The name a user types and a state file records: the constant's name in lower case. */
  default String id() {
    return ((Enum<?>) this).name().toLowerCase(Locale.ROOT);
  }

  /** The constant named {@code text}, or an error that lists the names there are. */
  static <E extends Enum<E> & Mode> E parse(Class<E> type, String text) {
    for (E e : type.getEnumConstants()) {
      if (e.id().equals(text)) {
        return e;
      }
    }
    throw new IllegalArgumentException("must be " + names(type) + ", got '" + text + "'");
  }

  /** "a, b or c". */
  static <E extends Enum<E> & Mode> String names(Class<E> type) {
    String[] ids = Arrays.stream(type.getEnumConstants()).map(Mode::id).toArray(String[]::new);
    if (ids.length == 1) {
      return ids[0];
    }
    return Arrays.stream(ids, 0, ids.length - 1).collect(Collectors.joining(", "))
        + " or "
        + ids[ids.length - 1];
  }
}
