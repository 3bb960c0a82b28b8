package dev.tweed.sys;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

class CommandFailedExceptionTest {
  @Test
  void messageNamesCommandInputAndStderrButBoundsTheInput() {
    String big = "-A X -j Y\n".repeat(100_000);
    var e =
        new CommandFailedException(
            List.of("iptables-restore", "--noflush"), big, 1, "line 3 failed\n");
    assertThat(e.getMessage())
        .startsWith("command failed (exit 1): iptables-restore --noflush <<< -A X -j Y ; -A X")
        .contains("(100001 lines)")
        .endsWith(": line 3 failed")
        .hasSizeLessThan(500);
    assertThat(e.input()).isEqualTo(big);
  }
}
