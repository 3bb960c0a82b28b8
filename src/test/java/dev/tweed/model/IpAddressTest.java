package dev.tweed.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.InetAddress;
import java.util.Random;
import org.junit.jupiter.api.Test;

class IpAddressTest {
  @Test
  void printsIpv6AsRfc5952() {
    assertThat(IpAddress.parse("fd00:10:244:0:0:0:0:1")).hasToString("fd00:10:244::1");
    assertThat(IpAddress.parse("0:0:0:0:0:0:0:0")).hasToString("::");
    assertThat(IpAddress.parse("::1")).hasToString("::1");
    assertThat(IpAddress.parse("FE80::ECEE:EEFF:FEEE:EEEE"))
        .hasToString("fe80::ecee:eeff:feee:eeee");
    // One zero group stays; of two equal runs the first is shortened.
    assertThat(IpAddress.parse("2001:db8:0:1:1:1:1:1")).hasToString("2001:db8:0:1:1:1:1:1");
    assertThat(IpAddress.parse("2001:0:0:1:0:0:1:1")).hasToString("2001::1:0:0:1:1");
    assertThat(IpAddress.parse("2001:db8::")).hasToString("2001:db8::");
  }

  @Test
  void roundTripsRandomAddressesAsTheJdkReadsThem() throws Exception {
    Random r = new Random(7);
    for (int i = 0; i < 2000; i++) {
      byte[] b = new byte[16];
      r.nextBytes(b);
      for (int j = 0; j < 16; j++) {
        if (r.nextInt(3) == 0) {
          b[j] = 0;
        }
      }
      IpAddress a = IpAddress.fromBytes(b);
      assertThat(IpAddress.parse(a.toString())).isEqualTo(a);
      assertThat(InetAddress.ofLiteral(a.toString()).getAddress()).isEqualTo(b);
      assertThat(a.bytes()).isEqualTo(b);
    }
  }

  @Test
  void prefixesOfBothFamilies() {
    Cidr c = Cidr.parse("fd00:10:244::1:0/120");
    assertThat(c).hasToString("fd00:10:244::1:0/120");
    assertThat(c.family()).isEqualTo(IpFamily.IPV6);
    assertThat(c.contains(IpAddress.parse("fd00:10:244::1:ff"))).isTrue();
    assertThat(c.contains(IpAddress.parse("fd00:10:244::2:0"))).isFalse();
    assertThat(c.address(5)).hasToString("fd00:10:244::1:5");
    assertThat(Cidr.parse("fd00::ffff:ffff:ffff:ffff/128").address(1)).hasToString("fd00:0:0:1::");
    assertThat(Cidr.parse("10.244.3.7/24")).hasToString("10.244.3.0/24");
    assertThat(Cidr.parse("10.0.0.0/8").contains(IpAddress.parse("::a00:1"))).isFalse();
    assertThat(Cidr.parse("::/0").covers(Cidr.parse("fd00::/8"))).isTrue();
    assertThatThrownBy(() -> Cidr.parseStrict("fd00::1/64")).hasMessageContaining("host bits");
    assertThatThrownBy(() -> Cidr.parse("fd00::/129")).hasMessageContaining("out of range");
    assertThatThrownBy(() -> IpAddress.parse("fe80::1%eth0")).hasMessageContaining("not an IPv6");
    assertThatThrownBy(() -> IpAddress.parse("fd00::g")).hasMessageContaining("not an IPv6");
  }
}
