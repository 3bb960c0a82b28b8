package dev.tweed.trace;

import dev.tweed.kernel.NetnsDump;
import dev.tweed.kernel.NetnsState;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * A capture on disk: one namespace's files ({@code tweed capture}), or one directory per namespace
 * with a {@code labels.txt} ({@code tweed lab capture}).
 */
public final class DumpDirectory {
  private DumpDirectory() {}

  public static TraceWorld load(Path dir) {
    Map<String, NetnsState> states = new LinkedHashMap<>();
    Map<String, String> labels = new LinkedHashMap<>();
    if (Files.exists(dir.resolve(NetnsDump.ADDR))) {
      NetnsState s = NetnsDump.parse(NetnsCapture.read(dir));
      states.put(s.name(), s);
      return new TraceWorld(states, labels);
    }
    try (Stream<Path> subs = Files.list(dir)) {
      for (Path sub : subs.sorted().toList()) {
        if (Files.exists(sub.resolve(NetnsDump.ADDR))) {
          NetnsState s = NetnsDump.parse(NetnsCapture.read(sub));
          states.put(sub.getFileName().toString(), renamed(s, sub.getFileName().toString()));
        }
      }
      Path labelFile = dir.resolve("labels.txt");
      if (Files.exists(labelFile)) {
        for (String line : Files.readAllLines(labelFile)) {
          List<String> f = List.of(line.strip().split("\\s+", 2));
          if (f.size() == 2) {
            labels.put(f.get(0), f.get(1));
          }
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    if (states.isEmpty()) {
      throw new IllegalArgumentException(dir + " holds no capture");
    }
    return new TraceWorld(states, labels);
  }

  private static NetnsState renamed(NetnsState s, String name) {
    return new NetnsState(
        name,
        s.links(),
        s.routes(),
        s.rules(),
        s.neighbours(),
        s.fdb(),
        s.iptablesSave(),
        s.ip6tablesSave(),
        s.ipsetSave(),
        s.nftRuleset(),
        s.sysctls(),
        s.listeners(),
        s.recentLists(),
        s.netnsIds(),
        s.tcPrograms(),
        s.bpfMaps());
  }
}
