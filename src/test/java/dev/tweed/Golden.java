package dev.tweed;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Golden files under src/test/resources/golden: whole outputs checked against reviewed
 * expectations. Regenerate on purpose with {@code -Dgolden.update=true} and review the diff.
 */
public final class Golden {
  private Golden() {}

  public static void assertMatches(String name, String actual) throws IOException {
    Path p = Path.of("src/test/resources/golden", name);
    if (Boolean.getBoolean("golden.update")) {
      Files.createDirectories(p.getParent());
      Files.writeString(p, actual);
    }
    assertThat(p).as("golden file %s (create with -Dgolden.update=true)", p).exists();
    assertThat(actual).isEqualTo(Files.readString(p));
  }
}
