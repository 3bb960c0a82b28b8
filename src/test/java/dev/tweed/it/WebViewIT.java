package dev.tweed.it;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tweed.lab.web.LabWebServer;
import java.time.Duration;
import java.util.List;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.openqa.selenium.By;
import org.openqa.selenium.NoSuchElementException;
import org.openqa.selenium.StaleElementReferenceException;
import org.openqa.selenium.WebElement;

/**
 * The web view in a real browser (headless chromium through chromedriver) against a running lab:
 * the topology, a Service's journey, a deny policy seen in the matrix and in the flows, and a
 * denied packet's journey checked by the kernel. The browser has no network beyond the loopback, so
 * every view also proves that the page needs nothing from outside. Screenshots go to
 * target/screenshots.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class WebViewIT {
  static final Duration WAIT = Duration.ofSeconds(30);
  WebLab lab;
  Tweed tweed;
  LabWebServer web;
  HeadlessChromium chromium;

  @BeforeAll
  void up() throws Exception {
    lab = WebLab.up("web");
    tweed = lab.tweed;
    web = lab.web;
    chromium = new HeadlessChromium();
  }

  @AfterAll
  void down() throws Exception {
    try {
      if (chromium != null) {
        chromium.close();
      }
    } finally {
      if (lab != null) {
        lab.close();
      }
    }
  }

  /** Whatever a view loaded came from the Tweed server, and it shows no error. */
  @AfterEach
  void nothingCameFromOutside() {
    assertThat(chromium.loaded()).isNotEmpty().allMatch(url -> url.startsWith(web.address()));
    assertThat(chromium.driver.findElement(By.id("error")).isDisplayed()).isFalse();
  }

  void open(String view) {
    chromium.driver.get(web.address() + view);
  }

  /** Waits until {@code find} gives an element (the page draws asynchronously), and returns it. */
  WebElement await(String what, Supplier<WebElement> find) {
    WebElement[] found = new WebElement[1];
    Tweed.await(
        what,
        WAIT,
        () -> {
          try {
            found[0] = find.get();
            return found[0] != null;
          } catch (NoSuchElementException | StaleElementReferenceException e) {
            return false;
          }
        });
    return found[0];
  }

  WebElement css(String selector) {
    return chromium.driver.findElement(By.cssSelector(selector));
  }

  List<WebElement> all(String selector) {
    return chromium.driver.findElements(By.cssSelector(selector));
  }

  @Test
  @Order(1)
  void theTopologyShowsEveryNodeAndPodAndTheServiceBackends() throws Exception {
    open("topology");
    await("pods drawn", () -> all("g.pod").size() == 3 ? css("g.pod") : null);
    assertThat(all("g.node"))
        .extracting(e -> e.getAttribute("data-node"))
        .containsExactly("node-1", "node-2");
    WebElement node1 = css("g.node[data-node='node-1']");
    assertThat(node1.getText()).contains("agent ready").contains("172.31.0.11");
    assertThat(node1.findElements(By.cssSelector("g.pod")))
        .extracting(e -> e.getAttribute("data-pod"))
        .containsExactly("default/client", "default/web-1");
    assertThat(css("g.pod[data-pod='default/web-2']").getText())
        .contains(tweed.podIp("web-2"))
        .contains("locked=yes");
    assertThat(css("g.link[data-link='node-1-node-2']").getText()).isEqualTo("VXLAN up");
    assertThat(css("tr[data-service='default/web']").getText())
        .contains("default/web-1 " + tweed.podIp("web-1") + " on node-1")
        .contains("default/web-2 " + tweed.podIp("web-2") + " on node-2");
    chromium.screenshot("topology");
  }

  @Test
  @Order(2)
  void aServiceJourneyShowsTheDnatAndEachBackendItMayChoose() throws Exception {
    String clusterIp =
        tweed
            .ok("lab", "get", "services")
            .lines()
            .filter(l -> l.contains(" web "))
            .findFirst()
            .orElseThrow()
            .split("\\s+")[3];
    open("journey?from=default/client&to=" + clusterIp + "&port=80&proto=tcp");
    await("the branches", () -> all(".branch-choice").size() == 2 ? css(".branch-choice") : null);
    WebElement end = await("the end of branch 1", () -> css("#journey-end"));
    assertThat(css("#journey-verdict").getText()).isEqualTo("delivered");
    // kube-proxy's random choice among two endpoints: half each.
    assertThat(all(".branch-choice"))
        .extracting(WebElement::getText)
        .allMatch(t -> t.contains("50%"));
    String nat = css("#journey-nat").getText();
    assertThat(nat).startsWith("DNAT " + clusterIp + ":80 → ");
    String chosen = nat.substring(nat.indexOf("→ ") + 2, nat.lastIndexOf(':'));
    String backend = chosen.equals(tweed.podIp("web-1")) ? "web-1" : "web-2";
    assertThat(chosen).isEqualTo(tweed.podIp(backend));
    assertThat(end.getText()).contains("delivered to default/" + backend);
    // The hop where the address changed says so, and the packet reaches the chosen pod's lane.
    assertThat(css(".nat-change").getText())
        .contains(clusterIp + ":80 ⇒")
        .contains(tweed.podIp(backend) + ":80");
    assertThat(all(".lane-label"))
        .extracting(WebElement::getText)
        .anyMatch(t -> t.startsWith("default/" + backend));
    assertThat(all(".hop.step-netfilter")).isNotEmpty();
    chromium.screenshot("journey-service");
    all(".branch-choice").get(1).click();
    String other = backend.equals("web-1") ? "web-2" : "web-1";
    await(
        "branch 2 drawn",
        () ->
            css("#journey-end").getText().contains("default/" + other)
                ? css("#journey-end")
                : null);
    assertThat(css("#journey-nat").getText()).contains("→ " + tweed.podIp(other) + ":80");

    // The reply too: back to the client, the translation undone by conntrack on the way.
    open("journey?from=default/client&to=" + clusterIp + "&port=80&proto=tcp&reply=true");
    WebElement reply = await("the reply drawn", () -> css("#journey-reply"));
    assertThat(css("#reply-verdict").getText()).isEqualTo("delivered");
    assertThat(css("#reply-reason").getText()).contains("reaches default/client");
    assertThat(reply.findElement(By.cssSelector(".hop.nat-hop")).getText())
        .contains("-> " + clusterIp + ":80");
    chromium.screenshot("journey-reply");
  }

  @Test
  @Order(3)
  void aDenyPolicyTurnsTheCellBlockedAndItsDroppedFlowLinksToThePolicyAndTheJourney()
      throws Exception {
    open("reachability?port=80");
    WebElement cell =
        await(
            "the matrix",
            () -> css("td.cell[data-from='default/client'][data-to='default/web-2']"));
    assertThat(cell.getAttribute("data-state")).isEqualTo("allowed");
    assertThat(
            css("td.cell[data-from='default/client'][data-to='default/web-1']")
                .getAttribute("data-state"))
        .isEqualTo("allowed");

    // Re-probing every 5 s, the page shows the policy take effect without being asked.
    css("#reach-auto").click();
    tweed.ok("lab", "apply", "-f", WebLab.resource("deny-locked.yaml"));
    await(
        "the cell turned blocked",
        () -> {
          WebElement c = css("td.cell[data-from='default/client'][data-to='default/web-2']");
          return c.getAttribute("data-state").equals("blocked") ? c : null;
        });
    assertThat(
            css("td.cell[data-from='default/client'][data-to='default/web-1']")
                .getAttribute("data-state"))
        .isEqualTo("allowed");
    assertThat(all("table.matrix tbody tr").get(2).getText())
        .contains("ingress: default/deny-locked");
    chromium.screenshot("reachability");

    open("flows?verdict=DROPPED");
    // The matrix's probe was dropped; send one more so the page sees a flow arrive while open.
    tweed.run(
        "lab", "probe", "--from", "default/client", "--to", "default/web-2", "--timeout", "300");
    WebElement drop =
        await(
            "a dropped flow to web-2",
            () ->
                all("tr.flow").stream()
                    .filter(
                        r ->
                            r.getText().contains("default/client:")
                                && r.getText().contains("default/web-2:80"))
                    .findFirst()
                    .orElse(null));
    assertThat(drop.getAttribute("data-verdict")).isEqualTo("DROPPED");
    assertThat(all("tr.flow")).allMatch(r -> "DROPPED".equals(r.getAttribute("data-verdict")));
    WebElement policy = drop.findElement(By.cssSelector("a.policy-link"));
    assertThat(policy.getText()).isEqualTo("default/deny-locked");
    String journey = drop.findElement(By.cssSelector("a.trace-link")).getAttribute("href");
    assertThat(journey)
        .isEqualTo(
            web.address() + "journey?from=default%2Fclient&to=default%2Fweb-2&port=80&proto=tcp");
    policy.click();
    WebElement panel = await("the policy panel", () -> css("#policy-panel pre.policy"));
    assertThat(panel.getText()).contains("\"locked\": \"yes\"").contains("Ingress");
    chromium.screenshot("flows");

    drop.findElement(By.cssSelector("a.trace-link")).click();
    WebElement end = await("the journey of the dropped packet", () -> css("#journey-end"));
    assertThat(css("#journey-verdict").getText()).isNotEqualTo("delivered");
    assertThat(end.findElement(By.cssSelector("code.deciding")).getText()).isNotBlank();
  }

  @Test
  @Order(4)
  void aDeniedPacketsJourneyShowsTheDroppingRuleAndTheKernelAgrees() throws Exception {
    open("journey?from=default/client&to=default/web-2&port=80&proto=tcp&verify=true");
    WebElement verify = await("the kernel's verdict", () -> css("#journey-verify-result"));
    assertThat(verify.getText()).startsWith("The kernel agrees");
    WebElement end = css("#journey-end");
    String rule = end.findElement(By.cssSelector("code.deciding")).getText();
    assertThat(rule).contains("DROP");
    assertThat(end.getText()).contains("dropped");
    // The deciding rule is drawn where the kernel met it: a netfilter hop of web-2's node.
    assertThat(all(".hop.step-netfilter code.rule")).extracting(WebElement::getText).contains(rule);
    chromium.screenshot("journey-denied");
  }
}
