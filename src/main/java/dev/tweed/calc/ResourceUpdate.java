package dev.tweed.calc;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tweed.model.ResourceKey;
import java.util.Optional;

/** A resource as the datastore has it now, or its removal (no value). */
public record ResourceUpdate(String key, Optional<JsonNode> value) {
  public String kind() {
    return ResourceKey.parse(key).kind();
  }
}
