package dev.tweed.lab.web;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

class WebAssetsTest {
  static final Path WEB = Path.of("src/main/resources/web");

  static List<Path> files() throws IOException {
    try (Stream<Path> s = Files.list(WEB)) {
      return s.sorted().toList();
    }
  }

  @Test
  void everyViewAddressAnswersThePage() {
    byte[] index = WebAssets.find("/").orElseThrow().bytes();
    for (String view : WebAssets.VIEWS) {
      WebAssets.Asset a = WebAssets.find(view).orElseThrow();
      assertThat(a.bytes()).isEqualTo(index);
      assertThat(a.contentType()).isEqualTo("text/html; charset=utf-8");
    }
    assertThat(WebAssets.find("/journey.js").orElseThrow().contentType())
        .isEqualTo("text/javascript; charset=utf-8");
  }

  @Test
  void nothingOutsideTheWebDirectoryIsServed() {
    assertThat(WebAssets.find("/../pom.xml")).isEmpty();
    assertThat(WebAssets.find("/..%2fpom.xml")).isEmpty();
    assertThat(WebAssets.find("//etc/passwd")).isEmpty();
    assertThat(WebAssets.find("/dev/tweed/lab/web/WebAssets.class")).isEmpty();
    assertThat(WebAssets.find("/nothing.js")).isEmpty();
    assertThat(WebAssets.find("/index.html.bak")).isEmpty();
  }

  /** The page needs no network: it names no address but its own (the SVG namespace is a name). */
  @Test
  void theFilesReferToNothingOutside() throws IOException {
    Pattern url = Pattern.compile("(?i)(https?:)?//[a-z0-9.-]+\\.[a-z]{2,}");
    for (Path f : files()) {
      Matcher m = url.matcher(Files.readString(f, StandardCharsets.UTF_8));
      while (m.find()) {
        assertThat(m.group()).as(f + " refers to " + m.group()).isEqualTo("http://www.w3.org");
      }
    }
  }

  /** Every module a script imports is one of the files served. */
  @Test
  void everyImportedModuleExists() throws IOException {
    Pattern from = Pattern.compile("from '\\./([a-z]+\\.js)'");
    for (Path f : files()) {
      if (f.toString().endsWith(".js")) {
        Matcher m = from.matcher(Files.readString(f));
        while (m.find()) {
          assertThat(WebAssets.find("/" + m.group(1))).as(f + " imports " + m.group(1)).isPresent();
        }
      }
    }
  }
}
