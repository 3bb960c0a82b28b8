package dev.tweed.datastore;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tweed.model.Json;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class UpdateBufferTest {
  private static Optional<JsonNode> v(int n) {
    return Optional.of(Json.parse("{\"v\":" + n + "}"));
  }

  private static UpdateBatch batch(long revision, ResourceUpdate... updates) {
    return new UpdateBatch(List.of(updates), revision, false);
  }

  @Test
  void aKeyChangedManyTimesIsOneUpdateFromItsFirstOldToItsLastNew() {
    var buffer = new UpdateBuffer();
    buffer.add(batch(2, ResourceUpdate.of("Pod/default/a", v(1), v(2), 2)));
    buffer.add(batch(3, ResourceUpdate.of("Service/default/s", Optional.empty(), v(7), 3)));
    buffer.add(batch(4, ResourceUpdate.of("Pod/default/a", v(2), v(3), 4)));
    UpdateBatch drained = buffer.drain();
    assertThat(drained.updates())
        .containsExactly(
            new ResourceUpdate("Pod", "Pod/default/a", v(1), v(3), 4),
            new ResourceUpdate("Service", "Service/default/s", Optional.empty(), v(7), 3));
    assertThat(drained.revision()).isEqualTo(4);
    assertThat(buffer.drain().updates()).isEmpty();
  }

  @Test
  void aResourceCreatedAndDeletedBetweenTwoDrainsIsNoUpdate() {
    var buffer = new UpdateBuffer();
    buffer.add(batch(5, ResourceUpdate.of("Pod/default/a", Optional.empty(), v(1), 5)));
    buffer.add(batch(6, ResourceUpdate.of("Pod/default/a", v(1), Optional.empty(), 6)));
    UpdateBatch drained = buffer.drain();
    assertThat(drained.updates()).isEmpty();
    assertThat(drained.revision()).isEqualTo(6);
  }

  @Test
  void aBatchOfKeysNotFollowedMovesTheRevisionButAsksForNoPass() {
    var buffer = new UpdateBuffer();
    assertThat(buffer.add(batch(9))).isFalse();
    assertThat(buffer.add(new UpdateBatch(List.of(), 9, true))).isTrue();
    UpdateBatch drained = buffer.drain();
    assertThat(drained.revision()).isEqualTo(9);
    assertThat(drained.listed()).isTrue();
    assertThat(buffer.drain().listed()).isFalse();
  }
}
