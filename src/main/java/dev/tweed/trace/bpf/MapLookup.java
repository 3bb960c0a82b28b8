package dev.tweed.trace.bpf;

/** One map lookup a program made: which map, the key in words, and what it found (or "none"). */
public record MapLookup(String map, String key, String result) {
  @Override
  public String toString() {
    return map + "[" + key + "] = " + result;
  }
}
