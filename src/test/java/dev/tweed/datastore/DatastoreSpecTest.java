package dev.tweed.datastore;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DatastoreSpecTest {
  @TempDir Path dir;

  EtcdTls tls() throws Exception {
    for (String f : List.of("c.crt", "c.key", "ca.crt")) {
      Files.writeString(dir.resolve(f), "pem");
    }
    return new EtcdTls(dir.resolve("c.crt"), dir.resolve("c.key"), dir.resolve("ca.crt"));
  }

  DatastoreSpec etcd(List<String> endpoints, Optional<EtcdTls> tls) {
    return new DatastoreSpec(
        DatastoreKind.ETCD, Optional.empty(), endpoints, tls, Optional.empty());
  }

  @Test
  void httpsEndpointsWithoutTheTlsFilesAreRefusedNamingThem() {
    assertThatThrownBy(() -> etcd(List.of("https://10.0.0.1:2379"), Optional.empty()))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("are https")
        .hasMessageContaining("--etcd-cert-file, --etcd-key-file and --etcd-ca-file");
  }

  @Test
  void httpsEndpointsWithTheFilesAndPlainOnesWithoutAreTaken() throws Exception {
    EtcdTls tls = tls();
    assertThat(etcd(List.of("https://10.0.0.1:2379", "https://10.0.0.2:2379"), Optional.of(tls)))
        .isNotNull();
    assertThat(etcd(List.of("http://10.0.0.1:2379"), Optional.empty())).isNotNull();
  }

  @Test
  void tlsFilesForPlainEndpointsOrMixedSchemesAreRefused() throws Exception {
    EtcdTls tls = tls();
    assertThatThrownBy(() -> etcd(List.of("http://10.0.0.1:2379"), Optional.of(tls)))
        .hasMessageContaining("plain http");
    assertThatThrownBy(
            () -> etcd(List.of("https://10.0.0.1:2379", "http://10.0.0.2:2379"), Optional.of(tls)))
        .hasMessageContaining("mixes https and http");
  }

  @Test
  void aPartialOrUnreadableSetOfTlsFilesIsRefused() throws Exception {
    tls();
    assertThatThrownBy(() -> EtcdTls.of(dir.resolve("c.crt"), null, dir.resolve("ca.crt")))
        .hasMessageContaining("missing --etcd-key-file");
    assertThatThrownBy(
            () -> EtcdTls.of(dir.resolve("c.crt"), dir.resolve("nope.key"), dir.resolve("ca.crt")))
        .hasMessageContaining("cannot read etcd TLS file")
        .hasMessageContaining("nope.key");
  }

  @Test
  void aPrefixRangeEndsAtTheNextKey() {
    assertThat(new String(EtcdRoles.prefixEnd("/tweed/"))).isEqualTo("/tweed0");
    assertThat(new String(EtcdRoles.prefixEnd("/tweed/IPAMBlock/"))).isEqualTo("/tweed/IPAMBlock0");
  }
}
