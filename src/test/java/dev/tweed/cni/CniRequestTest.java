package dev.tweed.cni;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tweed.model.Json;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.assertj.core.api.ThrowableAssert;
import org.junit.jupiter.api.Test;

class CniRequestTest {
  private static final String CONF =
      "{\"cniVersion\":\"1.1.0\",\"name\":\"tweed\",\"type\":\"tweed-cni\",\"ipam\":{\"pool\":\"10.244.0.0/16\"}}";

  private static Map<String, String> env(String command) {
    Map<String, String> m = new HashMap<>();
    m.put("CNI_COMMAND", command);
    m.put("CNI_CONTAINERID", "abc123");
    m.put("CNI_NETNS", "/run/netns/x");
    m.put("CNI_IFNAME", "eth0");
    m.put("CNI_PATH", "/opt/cni/bin");
    m.put("CNI_ARGS", "IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web");
    return m;
  }

  private static CniRequest parse(Map<String, String> env, String conf) throws CniException {
    return CniRequest.parse(env, conf.getBytes(StandardCharsets.UTF_8));
  }

  private static void assertCode(int code, String msgPart, ThrowableAssert.ThrowingCallable call) {
    assertThatThrownBy(call)
        .isInstanceOf(CniException.class)
        .hasMessageContaining(msgPart)
        .extracting(e -> ((CniException) e).code())
        .isEqualTo(code);
  }

  @Test
  void parsesAWellFormedAdd() throws Exception {
    CniRequest r = parse(env("ADD"), CONF);
    assertThat(r.command()).isEqualTo(CniCommand.ADD);
    assertThat(r.handle()).isEqualTo("abc123.eth0");
    assertThat(r.podRef()).isEqualTo("default/web");
    assertThat(r.netns()).contains("/run/netns/x");
    assertThat(CniPlugin.poolsOf(r.config()))
        .singleElement()
        .extracting(p -> p.blockPrefixLength())
        .isEqualTo(26);
  }

  @Test
  void versionNeedsNoConfiguration() throws Exception {
    assertThat(parse(Map.of("CNI_COMMAND", "VERSION"), "").command()).isEqualTo(CniCommand.VERSION);
  }

  @Test
  void delNeedsNoNetns() throws Exception {
    Map<String, String> e = env("DEL");
    e.remove("CNI_NETNS");
    assertThat(parse(e, CONF).netns()).isEmpty();
  }

  @Test
  void rejectsBadEnvironmentWithCode4() {
    assertCode(4, "CNI_COMMAND is not set", () -> parse(new HashMap<>(), CONF));
    assertCode(4, "unknown CNI_COMMAND", () -> parse(env("FROB"), CONF));
    Map<String, String> noId = env("ADD");
    noId.remove("CNI_CONTAINERID");
    assertCode(4, "CNI_CONTAINERID is not set", () -> parse(noId, CONF));
    Map<String, String> badId = env("ADD");
    badId.put("CNI_CONTAINERID", "../etc");
    assertCode(4, "malformed", () -> parse(badId, CONF));
    Map<String, String> longIf = env("ADD");
    longIf.put("CNI_IFNAME", "a-very-long-interface");
    assertCode(4, "CNI_IFNAME", () -> parse(longIf, CONF));
    Map<String, String> noNetns = env("ADD");
    noNetns.remove("CNI_NETNS");
    assertCode(4, "CNI_NETNS", () -> parse(noNetns, CONF));
  }

  @Test
  void rejectsUndecodableConfigurationWithCode6() {
    assertCode(6, "cannot decode", () -> parse(env("ADD"), "{not json"));
    assertCode(6, "not a JSON object", () -> parse(env("ADD"), "[1,2]"));
  }

  @Test
  void rejectsIncompleteConfigurationWithCode7() {
    assertCode(
        7, "no cniVersion", () -> parse(env("ADD"), "{\"name\":\"n\",\"type\":\"tweed-cni\"}"));
    assertCode(
        7, "no name", () -> parse(env("ADD"), "{\"cniVersion\":\"1.0.0\",\"type\":\"tweed-cni\"}"));
    assertCode(
        7,
        "expected \"tweed-cni\"",
        () -> parse(env("ADD"), "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"type\":\"bridge\"}"));
  }

  @Test
  void rejectsUnsupportedVersionsWithCode1() {
    assertCode(1, "0.2.0", () -> parse(env("ADD"), CONF.replace("1.1.0", "0.2.0")));
    // CHECK arrived in 0.4.0.
    assertCode(1, "CHECK", () -> parse(env("CHECK"), CONF.replace("1.1.0", "0.3.1")));
    // STATUS and GC exist only from 1.1.0 on.
    assertCode(1, "STATUS", () -> parse(env("STATUS"), CONF.replace("1.1.0", "1.0.0")));
  }

  @Test
  void errorResultHasTheSpecShape() {
    var json = new CniException(7, "bad", "why").toJson("1.0.0");
    assertThat(json.toString())
        .isEqualTo("{\"cniVersion\":\"1.0.0\",\"code\":7,\"msg\":\"bad\",\"details\":\"why\"}");
  }

  @Test
  void aDualStackResultListsOneAddressPerFamilyWithItsGatewayAndDefaultRoute() {
    var a =
        new PodAttachment(
            "tw0",
            PodAttachment.HOST_MAC,
            "eth0",
            "02:11:22:33:44:55",
            "/run/netns/p",
            List.of("fd00:10:244::5", "10.244.0.5"));
    var r = CniResult.of("1.1.0", a);
    assertThat(r.path("ips").get(0).path("address").asText()).isEqualTo("fd00:10:244::5/128");
    assertThat(r.path("ips").get(0).path("gateway").asText())
        .isEqualTo("fe80::ecee:eeff:feee:eeee");
    assertThat(r.path("ips").get(0).path("interface").asInt()).isEqualTo(1);
    assertThat(r.path("ips").get(1).path("address").asText()).isEqualTo("10.244.0.5/32");
    assertThat(r.path("routes").get(0).path("dst").asText()).isEqualTo("::/0");
    assertThat(r.path("routes").get(1).path("gw").asText()).isEqualTo("169.254.1.1");
    assertThat(CniResult.of("0.4.0", a).path("ips").get(0).path("version").asText()).isEqualTo("6");
  }

  @Test
  void poolsAreOnePerFamilyWithoutHostBits() throws Exception {
    var two =
        CniPlugin.poolsOf(
            Json.parse(
                "{\"ipam\":{\"pools\":[{\"cidr\":\"10.244.0.0/16\"},{\"cidr\":\"fd00:10:244::/56\"}]}}"));
    assertThat(two).extracting(p -> p.blockPrefixLength()).containsExactly(26, 122);
    for (String bad :
        List.of(
            "{\"ipam\":{\"pools\":[{\"cidr\":\"fd00::/56\"},{\"cidr\":\"fd01::/56\"}]}}",
            "{\"ipam\":{\"pools\":[{\"cidr\":\"fd00::1/56\"}]}}",
            "{\"ipam\":{\"pools\":[]}}",
            "{\"ipam\":{\"pools\":[{\"cidr\":\"fd00::/56\",\"blockSize\":64}]}}"))
      assertThatThrownBy(() -> CniPlugin.poolsOf(Json.parse(bad)))
          .isInstanceOf(CniException.class)
          .extracting(e -> ((CniException) e).code())
          .isEqualTo(CniException.INVALID_CONFIG);
  }

  @Test
  void resultFollowsTheRequestedVersion() {
    var a =
        new PodAttachment(
            "tw0",
            PodAttachment.HOST_MAC,
            "eth0",
            "02:11:22:33:44:55",
            "/run/netns/p",
            List.of("10.244.0.5"));
    var v1 = CniResult.of("1.1.0", a);
    assertThat(v1.path("ips").get(0).path("address").asText()).isEqualTo("10.244.0.5/32");
    assertThat(v1.path("ips").get(0).path("interface").asInt()).isEqualTo(1);
    assertThat(v1.path("ips").get(0).has("version")).isFalse();
    assertThat(v1.path("interfaces").get(1).path("sandbox").asText()).isEqualTo("/run/netns/p");
    assertThat(CniResult.of("0.4.0", a).path("ips").get(0).path("version").asText()).isEqualTo("4");
    var v031 = CniResult.of("0.3.1", a);
    assertThat(v031.path("cniVersion").asText()).isEqualTo("0.3.1");
    assertThat(v031.path("ips").get(0).path("version").asText()).isEqualTo("4");
    assertThat(v031.path("ips").get(0).path("interface").asInt()).isEqualTo(1);
  }

  @Test
  void socketFramingRoundTrips() {
    byte[] req =
        AgentSocketProtocol.encodeRequest(
            Map.of("CNI_COMMAND", "ADD", "CNI_IFNAME", "eth0"),
            "{\"a\":\n1}".getBytes(StandardCharsets.UTF_8));
    var decoded = AgentSocketProtocol.decodeRequest(req);
    assertThat(decoded.env())
        .containsEntry("CNI_COMMAND", "ADD")
        .containsEntry("CNI_IFNAME", "eth0");
    assertThat(new String(decoded.stdin(), StandardCharsets.UTF_8)).isEqualTo("{\"a\":\n1}");
    var resp =
        AgentSocketProtocol.decodeResponse(AgentSocketProtocol.encodeResponse(7, "{\"x\":1}\n"));
    assertThat(resp.exitCode()).isEqualTo(7);
    assertThat(resp.stdout()).isEqualTo("{\"x\":1}\n");
  }
}
