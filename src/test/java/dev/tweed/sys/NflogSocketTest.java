package dev.tweed.sys;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

/** nfnetlink_log packet messages, laid out as the kernel sends them, read back. */
class NflogSocketTest {
  private static void attr(ByteBuffer b, int type, byte[] value) {
    b.putShort((short) (4 + value.length)).putShort((short) type).put(value);
    while (b.position() % 4 != 0) {
      b.put((byte) 0);
    }
  }

  private static byte[] be(int v) {
    return ByteBuffer.allocate(4).order(ByteOrder.BIG_ENDIAN).putInt(v).array();
  }

  static ByteBuffer message(String prefix, int hook, int inIf, byte[] payload) {
    ByteBuffer b = ByteBuffer.allocate(512).order(ByteOrder.nativeOrder());
    b.putInt(0).putShort((short) 0x0400).putShort((short) 0).putInt(0).putInt(0);
    b.put((byte) 2).put((byte) 0).putShort((short) 0);
    attr(b, 1, new byte[] {0x08, 0x00, (byte) hook, 0});
    attr(b, 4, be(inIf));
    attr(b, 9, payload);
    attr(b, 10, (prefix + "\0").getBytes(StandardCharsets.US_ASCII));
    int len = b.position();
    b.putInt(0, len);
    return b.flip();
  }

  @Test
  void aPacketMessageGivesItsPrefixHookDeviceAndPayload() {
    byte[] payload = {0x45, 0, 0, 20, 1, 2, 3, 4, 5};
    ByteBuffer two = ByteBuffer.allocate(1024).order(ByteOrder.nativeOrder());
    two.put(message("tweed:policy-denied:egress", 2, 7, payload));
    two.put(message("tweed:spoofed-source:egress", 0, 3, payload));
    List<NflogSocket.Logged> out = NflogSocket.parse(two.flip());
    assertThat(out).hasSize(2);
    assertThat(out.get(0).prefix()).isEqualTo("tweed:policy-denied:egress");
    assertThat(out.get(0).hook()).isEqualTo(2);
    assertThat(out.get(0).inIfindex()).isEqualTo(7);
    assertThat(out.get(0).payload()).containsExactly(payload);
    assertThat(out.get(1).prefix()).isEqualTo("tweed:spoofed-source:egress");
  }

  @Test
  void otherMessagesAndATruncatedOneAreSkipped() {
    ByteBuffer b = message("x", 0, 1, new byte[0]);
    b.putShort(4, (short) 0x0002); // an error message, not a packet
    assertThat(NflogSocket.parse(b)).isEmpty();
    ByteBuffer cut = message("x", 0, 1, new byte[8]);
    cut.limit(cut.limit() - 8);
    assertThat(NflogSocket.parse(cut)).isEmpty();
  }
}
