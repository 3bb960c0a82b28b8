package dev.tweed.ebpf;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tweed.datastore.JournalDatastore;
import dev.tweed.datastore.Listing;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class IdentityCollectorTest {
  @TempDir Path dir;

  static final List<String> WEB = List.of("k8s:app=web", "k8s:io.kubernetes.pod.namespace=x");
  static final List<String> DB = List.of("k8s:app=db", "k8s:io.kubernetes.pod.namespace=x");
  static final long MINUTE = 60_000_000_000L;

  static List<JsonNode> objects(JournalDatastore store) {
    Listing l = store.list(IdentityAllocator.KIND + "/");
    List<JsonNode> out = new ArrayList<>();
    l.entries().forEach(e -> out.add(e.value()));
    return out;
  }

  @Test
  void anIdentityNoPodNeedsGoesAfterTheGracePeriodAndOneInUseStays() {
    try (var store = new JournalDatastore(dir)) {
      Map<List<String>, Integer> ids =
          new IdentityAllocator(store).ensure(List.of(WEB, DB), Map.of());
      var gc = new IdentityCollector(store, Duration.ofMinutes(15));
      // db's pods are gone: noted now, kept through the grace period.
      assertThat(gc.collect(objects(store), List.of(WEB), 0)).isEmpty();
      assertThat(gc.collect(objects(store), List.of(WEB), 14 * MINUTE)).isEmpty();
      assertThat(gc.collect(objects(store), List.of(WEB), 15 * MINUTE))
          .containsExactly(ids.get(DB));
      assertThat(IdentityAllocator.read(objects(store))).containsOnlyKeys(WEB);
    }
  }

  @Test
  void aLabelSetThatComesBackWithinTheGracePeriodKeepsItsNumber() {
    try (var store = new JournalDatastore(dir)) {
      new IdentityAllocator(store).ensure(List.of(WEB, DB), Map.of());
      var gc = new IdentityCollector(store, Duration.ofMinutes(15));
      gc.collect(objects(store), List.of(WEB), 0);
      gc.collect(objects(store), List.of(WEB, DB), 10 * MINUTE);
      // Unneeded again later: its grace period starts over.
      assertThat(gc.collect(objects(store), List.of(WEB), 11 * MINUTE)).isEmpty();
      assertThat(gc.collect(objects(store), List.of(WEB), 20 * MINUTE)).isEmpty();
      assertThat(IdentityAllocator.read(objects(store))).containsOnlyKeys(WEB, DB);
    }
  }

  @Test
  void aSecondNumberForOneLabelSetIsCollectedAndTheLowestKept() {
    try (var store = new JournalDatastore(dir)) {
      // Two agents gave web two numbers at once; everyone uses the lower.
      store.put(IdentityAllocator.key(300).toString(), IdentityAllocator.toJson(300, WEB));
      store.put(IdentityAllocator.key(301).toString(), IdentityAllocator.toJson(301, WEB));
      var gc = new IdentityCollector(store, Duration.ZERO);
      assertThat(gc.collect(objects(store), List.of(WEB), 0)).containsExactly(301);
      assertThat(IdentityAllocator.read(objects(store))).containsExactly(Map.entry(WEB, 300));
    }
  }
}
