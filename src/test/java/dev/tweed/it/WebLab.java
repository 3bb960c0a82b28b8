package dev.tweed.it;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tweed.lab.LabLayout;
import dev.tweed.lab.service.LabService;
import dev.tweed.lab.web.LabWebServer;
import java.io.IOException;

/**
 * A two-node lab with the web view's pods (src/test/resources/web/lab.yaml) and its web server on a
 * free loopback port; closing it stops the server and removes the lab.
 */
final class WebLab implements AutoCloseable {
  final Tweed tweed;
  final LabWebServer web;

  private WebLab(Tweed tweed, LabWebServer web) {
    this.tweed = tweed;
    this.web = web;
  }

  static WebLab up(String stem) throws IOException {
    Tweed tweed = Tweed.newLab(stem);
    tweed.ok("lab", "up", "--nodes", "2", "-f", resource("lab.yaml"));
    try {
      return new WebLab(tweed, LabWebServer.start(LabService.of(LabLayout.of(tweed.lab())), 0));
    } catch (IOException | RuntimeException e) {
      tweed.ok("lab", "down");
      throw e;
    }
  }

  static String resource(String name) {
    return Tweed.HOME.resolve("src/test/resources/web/" + name).toString();
  }

  @Override
  public void close() {
    try {
      web.close();
    } finally {
      tweed.ok("lab", "down");
      assertThat(tweed.namespaces()).isEmpty();
    }
  }
}
