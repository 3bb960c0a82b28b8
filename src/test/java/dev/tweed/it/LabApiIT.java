package dev.tweed.it;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tweed.lab.LabLayout;
import dev.tweed.lab.web.LabWebServer;
import dev.tweed.model.Json;
import dev.tweed.sys.Command;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * The web view's HTTP API against a running lab: the JSON the CLI prints, status codes, and bad
 * input answered with a message (never a stack trace) that changes nothing.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class LabApiIT {
  final HttpClient http = HttpClient.newHttpClient();
  WebLab lab;
  Tweed tweed;
  LabWebServer web;

  record Reply(int status, JsonNode body) {}

  @BeforeAll
  void up() throws Exception {
    lab = WebLab.up("api");
    tweed = lab.tweed;
    web = lab.web;
  }

  @AfterAll
  void down() {
    if (lab != null) {
      lab.close();
    }
  }

  Reply get(String path) throws Exception {
    HttpResponse<String> r =
        http.send(
            HttpRequest.newBuilder(URI.create(web.address() + path)).build(),
            HttpResponse.BodyHandlers.ofString());
    return reply(r);
  }

  JsonNode uncheckedGet(String path) {
    try {
      return get(path).body();
    } catch (Exception e) {
      throw new AssertionError(e);
    }
  }

  Reply post(String path, String contentType, String body) throws Exception {
    HttpResponse<String> r =
        http.send(
            HttpRequest.newBuilder(URI.create(web.address() + path))
                .header("Content-Type", contentType)
                .POST(HttpRequest.BodyPublishers.ofString(body))
                .build(),
            HttpResponse.BodyHandlers.ofString());
    return reply(r);
  }

  private static Reply reply(HttpResponse<String> r) {
    assertThat(r.headers().firstValue("Content-Type")).hasValue("application/json");
    return new Reply(r.statusCode(), Json.parse(r.body()));
  }

  /** An error is a status, a message for people and nothing of the server's insides. */
  static void assertError(Reply r, int status, String message) {
    assertThat(r.status()).as(r.body().toString()).isEqualTo(status);
    assertThat(r.body().path("status").asInt()).isEqualTo(status);
    assertThat(r.body().path("error").asText()).contains(message);
    assertThat(r.body().toString()).doesNotContain("Exception").doesNotContain("at dev.tweed");
  }

  static List<String> fields(JsonNode n) {
    List<String> out = new ArrayList<>();
    Iterator<String> it = n.fieldNames();
    it.forEachRemaining(out::add);
    return out;
  }

  @Test
  void theTopologyHoldsNodesPodsLinksAndServices() throws Exception {
    Reply r = get("api/topology");
    assertThat(r.status()).isEqualTo(200);
    JsonNode t = r.body();
    assertThat(t.path("lab").asText()).isEqualTo(tweed.lab());
    assertThat(t.path("routing").asText()).isEqualTo("vxlan");
    assertThat(t.path("dataplane").asText()).isEqualTo("standard");
    assertThat(t.path("nodes").findValuesAsText("name")).contains("node-1", "node-2");
    JsonNode node1 = t.path("nodes").get(0);
    assertThat(node1.path("agent").path("ready").asBoolean()).isTrue();
    assertThat(node1.path("pods").findValuesAsText("name")).containsExactly("client", "web-1");
    assertThat(node1.path("pods").get(1).path("labels").path("app").asText()).isEqualTo("web");
    assertThat(node1.path("pods").get(1).path("ip").asText()).isEqualTo(tweed.podIp("web-1"));
    assertThat(node1.path("pods").get(1).path("ips").toString())
        .isEqualTo("[\"" + tweed.podIp("web-1") + "\"]");
    JsonNode link = t.path("links").get(0);
    assertThat(link.path("kind").asText()).isEqualTo("vxlan");
    assertThat(link.path("state").asText()).isEqualTo("up");
    JsonNode svc = t.path("services").get(0);
    assertThat(svc.path("name").asText()).isEqualTo("web");
    assertThat(svc.path("backends").findValuesAsText("pod"))
        .containsExactly("default/web-1", "default/web-2");
  }

  @Test
  void answersAreTheJsonTheCliPrints() throws Exception {
    Reply probe = get("api/probe?from=default/client&to=default/web-1");
    assertThat(probe.status()).isEqualTo(200);
    assertThat(probe.body().path("connected").asBoolean()).isTrue();
    assertThat(probe.body().path("answer").asText()).isEqualTo("default/web-1");
    JsonNode cli =
        Json.parse(
            tweed.ok(
                "lab", "probe", "--from", "default/client", "--to", "default/web-1", "-o", "json"));
    assertThat(fields(probe.body())).isEqualTo(fields(cli));

    Reply pods = get("api/resources/pods");
    assertThat(pods.body()).isEqualTo(Json.parse(tweed.ok("lab", "get", "pods", "-o", "json")));
    Reply one = get("api/resources/pods/default/web-2");
    assertThat(one.body().path("metadata").path("labels").path("locked").asText()).isEqualTo("yes");

    Reply trace = get("api/trace?from=default/client&to=default/web-2&port=80&proto=tcp");
    JsonNode cliTrace =
        Json.parse(
            tweed.ok("trace", "--from", "default/client", "--to", "default/web-2", "-o", "json"));
    assertThat(trace.body().path("verdict").asText())
        .isEqualTo(cliTrace.path("verdict").asText())
        .isEqualTo("delivered");
    assertThat(trace.body().path("hops").size()).isEqualTo(cliTrace.path("hops").size());

    Reply status = get("api/status");
    assertThat(status.body().findValuesAsText("node")).contains("node-1", "node-2");
    assertThat(status.body().get(0).path("ready").asBoolean()).isTrue();

    Reply matrix = get("api/reachability?port=80&namespaces=default");
    assertThat(fields(matrix.body()))
        .containsExactly("pods", "matrix", "family", "port", "protocol", "isolation");
    assertThat(matrix.body().path("pods").toString())
        .isEqualTo("[\"default/client\",\"default/web-1\",\"default/web-2\"]");
    assertThat(matrix.body().path("matrix").toString()).isEqualTo("[[1,1,1],[1,1,1],[1,1,1]]");
    assertThat(matrix.body().path("isolation").get(2).path("ingress").size()).isZero();
  }

  @Test
  void flowsComeInPagesAfterACursor() throws Exception {
    assertThat(
            get("api/probe?from=default/client&to=default/web-1")
                .body()
                .path("connected")
                .asBoolean())
        .isTrue();
    Tweed.await(
        "a first flow",
        Duration.ofSeconds(10),
        () -> uncheckedGet("api/flows?pod=default/web-1").path("flows").size() > 0);
    JsonNode first = get("api/flows").body();
    String cursor = first.path("cursor").asText();
    assertThat(cursor).matches("node-1:\\d+,node-2:\\d+");
    assertThat(
            get("api/probe?from=default/client&to=default/web-2")
                .body()
                .path("connected")
                .asBoolean())
        .isTrue();
    Tweed.await(
        "the probe's flow",
        Duration.ofSeconds(10),
        () ->
            uncheckedGet("api/flows?pod=default/web-2&cursor=" + cursor).path("flows").size() > 0);
    JsonNode later = get("api/flows?cursor=" + cursor).body();
    assertThat(later.path("flows").toString()).contains("\"pod_name\":\"web-2\"");
    List<String> old = flowKeys(first);
    assertThat(flowKeys(later)).doesNotContainAnyElementsOf(old);
    for (JsonNode f : get("api/flows?pod=default/web-2").body().path("flows")) {
      assertThat(
              f.path("source").path("pod_name").asText()
                  + f.path("destination").path("pod_name").asText())
          .contains("web-2");
    }
  }

  static List<String> flowKeys(JsonNode page) {
    List<String> out = new ArrayList<>();
    page.path("flows")
        .forEach(f -> out.add(f.path("node_name").asText() + "#" + f.path("seq").asLong()));
    return out;
  }

  @Test
  void badInputIsAnErrorWithAMessage() throws Exception {
    assertError(
        get("api/trace?from=default/nope&to=default/web-1"), 404, "pod default/nope not found");
    assertError(
        get("api/probe?from=default/client&to=default/ghost"), 404, "pod default/ghost not found");
    assertError(get("api/resources/pods/default/nope"), 404, "Pod default/nope not found");
    assertError(get("api/resources/widgets"), 400, "unknown kind 'widgets'");
    assertError(get("api/trace?to=default/web-1"), 400, "missing parameter 'from'");
    assertError(
        get("api/trace?from=default/client&to=default/web-1&proto=sctp"), 400, "proto must be");
    assertError(
        get("api/trace?from=default/client&to=default/web-1&port=abc"), 400, "must be a number");
    assertError(
        get("api/trace?from=default/client&to=default/web-1&port=70000"),
        400,
        "port must be 1-65535");
    assertError(get("api/trace?from=client&to=default/web-1"), 400, "expected NAMESPACE/POD");
    assertError(get("api/trace?from=default/client&to=not-an-ip"), 400, "an IP address");
    assertError(
        get("api/trace?from=default/client&to=10.244.0.1&family=6"), 400, "not an IPv6 address");
    assertError(get("api/flows?verdict=MAYBE"), 400, "verdict must be");
    assertError(get("api/flows?since=forever"), 400, "since wants");
    assertError(get("api/flows?cursor=garbage"), 400, "cursor must look like");
    assertError(get("api/flows?node=node-9"), 404, "no node node-9");
    assertError(get("api/nothing"), 404, "no API route /api/nothing");
    assertError(get("api/apply"), 405, "use POST");
    HttpResponse<String> page =
        http.send(
            HttpRequest.newBuilder(URI.create(web.address() + "../../etc/passwd")).build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(page.statusCode()).isEqualTo(404);
  }

  @Test
  void applyingTakesYamlAndRefusesABadObjectWithoutChangingAnything() throws Exception {
    JsonNode before = get("api/resources/pods").body();
    String twoPods =
        "kind: Pod\nmetadata: {name: extra}\nspec: {nodeName: node-2, containers: [{name: c}]}\n"
            + "---\nkind: Pod\nmetadata: {name: bad}\nspec: {nodeName: node-7, containers: [{name: c}]}\n";
    assertError(post("api/apply", "application/yaml", twoPods), 400, "nothing was changed");
    assertThat(get("api/resources/pods").body()).isEqualTo(before);
    assertError(post("api/apply", "text/plain", twoPods), 415, "application/yaml");
    assertError(
        post("api/apply", "application/yaml", "kind: [unclosed"), 400, "nothing was changed");

    String extra =
        "kind: Pod\nmetadata: {name: extra}\nspec: {nodeName: node-2, containers: [{name: c}]}\n";
    Reply created = post("api/apply", "application/yaml", extra);
    assertThat(created.status()).isEqualTo(200);
    assertThat(created.body().path("results").get(0).asText()).isEqualTo("pod/extra created");
    assertThat(
            get("api/topology").body().path("nodes").get(1).path("pods").findValuesAsText("name"))
        .contains("extra");
    Reply deleted = post("api/delete", "application/yaml", extra);
    assertThat(deleted.status()).isEqualTo(200);
    assertThat(deleted.body().path("results").get(0).asText()).isEqualTo("pod/extra deleted");
    assertThat(get("api/resources/pods").body().findValuesAsText("name"))
        .isEqualTo(before.findValuesAsText("name"));
  }

  @Test
  void itAnswersOnlyTheLoopbackByNameOrNumber() throws Exception {
    try (Socket s = new Socket("127.0.0.1", web.port())) {
      OutputStream out = s.getOutputStream();
      out.write(
          "GET /api/status HTTP/1.1\r\nHost: tweed.example:80\r\nConnection: close\r\n\r\n"
              .getBytes(StandardCharsets.US_ASCII));
      out.flush();
      String status =
          new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.US_ASCII))
              .readLine();
      assertThat(status).startsWith("HTTP/1.1 421");
    }
    String listening = Command.run(List.of("ss", "-Htln", "sport = :" + web.port()));
    // Java binds 127.0.0.1 on a dual-stack socket: ss shows it IPv4-mapped.
    assertThat(listening.strip())
        .containsPattern("(\\[::ffff:)?127\\.0\\.0\\.1\\]?:" + web.port() + " ");
    assertThat(listening.strip().lines()).hasSize(1);
  }

  @Test
  void tweedLabUiServesThePageAndPrintsItsAddress() throws Exception {
    Process ui =
        new ProcessBuilder(
                Tweed.HOME.resolve("tweed").toString(),
                "lab",
                "ui",
                "--lab",
                tweed.lab(),
                "--port",
                "0")
            .redirectError(ProcessBuilder.Redirect.DISCARD)
            .start();
    try {
      String line =
          new BufferedReader(new InputStreamReader(ui.getInputStream(), StandardCharsets.UTF_8))
              .readLine();
      assertThat(line)
          .matches("web view of lab '" + tweed.lab() + "': http://127\\.0\\.0\\.1:\\d+/ .*");
      String address = line.substring(line.indexOf("http://"), line.indexOf("/ ") + 1);
      for (String view : List.of("", "topology", "flows", "reachability", "journey?from=a/b")) {
        HttpResponse<String> r =
            http.send(
                HttpRequest.newBuilder(URI.create(address + view)).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(r.body()).contains("<script type=\"module\" src=\"/app.js\">");
        assertThat(r.headers().firstValue("Content-Security-Policy"))
            .hasValueSatisfying(csp -> assertThat(csp).startsWith("default-src 'self'"));
      }
      HttpResponse<String> js =
          http.send(
              HttpRequest.newBuilder(URI.create(address + "journey.js")).build(),
              HttpResponse.BodyHandlers.ofString());
      assertThat(js.headers().firstValue("Content-Type"))
          .hasValue("text/javascript; charset=utf-8");
    } finally {
      ui.destroy();
      ui.waitFor();
    }
    assertThat(Files.exists(LabLayout.of(tweed.lab()).stateFile())).isTrue();
  }
}
