package dev.tweed.dataplane;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class NftablesWriterTest {
  @Test
  void dynamicSetElementsAreStateNotConfiguration() {
    String listing =
        """
        table ip tweed-proxy {
        \tset affinity-X {
        \t\ttype ipv4_addr
        \t\tflags dynamic,timeout
        \t\ttimeout 3h
        \t\telements = { 10.244.0.5 timeout 3h expires 2h59m50s,
        \t\t\t     10.244.0.6 timeout 3h expires 2h10m }
        \t}
        \tmap service-ips {
        \t\ttype ipv4_addr . inet_proto . inet_service : verdict
        \t\telements = { 10.96.0.10 . tcp . 80 : goto service-X }
        \t}
        }
        """;
    String stripped = NftablesWriter.withoutDynamicElements(listing);
    assertThat(stripped).doesNotContain("10.244.0.5", "10.244.0.6", "expires");
    assertThat(stripped).contains("10.96.0.10 . tcp . 80 : goto service-X", "timeout 3h");
  }
}
