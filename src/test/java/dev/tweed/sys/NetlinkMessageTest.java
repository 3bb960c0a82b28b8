package dev.tweed.sys;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.junit.jupiter.api.Test;

class NetlinkMessageTest {
  @Test
  void headerLengthsAndPaddingAreTheKernels() {
    byte[] m =
        new NetlinkMessage(16, 0x605)
            .family(NetlinkMessage.buffer(16).putInt(0).putInt(7).putInt(1).putInt(1).flip())
            .attrString(3, "tw0") // 4 + 4 bytes: "tw0\0"
            .begin(18)
            .attrString(1, "veth") // 4 + 5, padded to 12
            .begin(2)
            .attrInt(4, 1450) // 8
            .end()
            .end()
            .bytes(42);
    ByteBuffer b = ByteBuffer.wrap(m).order(ByteOrder.nativeOrder());
    assertThat(m.length % 4).isZero();
    assertThat(b.getInt(0)).as("nlmsg_len").isEqualTo(m.length);
    assertThat(b.getShort(4)).as("type").isEqualTo((short) 16);
    assertThat(b.getShort(6)).as("flags").isEqualTo((short) 0x605);
    assertThat(b.getInt(8)).as("seq").isEqualTo(42);
    assertThat(b.getInt(20)).as("family header kept").isEqualTo(7);
    int attr = 16 + 16;
    assertThat(b.getShort(attr)).as("IFLA_IFNAME length").isEqualTo((short) 8);
    int linkinfo = attr + 8;
    assertThat(b.getShort(linkinfo + 2)).isEqualTo((short) 18);
    assertThat(b.getShort(linkinfo)).as("nested length: 4 + 12 + (4 + 8)").isEqualTo((short) 28);
    int data = linkinfo + 4 + 12;
    assertThat(b.getShort(data)).as("inner nest").isEqualTo((short) 12);
    assertThat(b.getInt(data + 8)).isEqualTo(1450);
    assertThat(linkinfo + 28).isEqualTo(m.length);
  }
}
