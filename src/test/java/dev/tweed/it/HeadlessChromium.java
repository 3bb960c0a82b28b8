package dev.tweed.it;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import org.openqa.selenium.Dimension;
import org.openqa.selenium.JavascriptExecutor;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;

/**
 * Debian's chromium, headless, driven through its chromedriver (WebDriver). It has no way out:
 * every address but the loopback goes to a proxy on a closed loopback port, and the background
 * services that would call home are off, so a page that needs the internet fails here.
 */
final class HeadlessChromium implements AutoCloseable {
  static final Path SCREENSHOTS = Tweed.HOME.resolve("target/screenshots");
  final ChromeDriver driver;
  private final Path profile;

  HeadlessChromium() {
    try {
      profile = Files.createTempDirectory("tw-chromium");
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    ChromeOptions options = new ChromeOptions();
    options.setBinary("/usr/bin/chromium");
    options.addArguments(
        "--headless=new",
        // Root cannot use chromium's sandbox; the page is our own, served from the loopback.
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1500,1000",
        "--proxy-server=http://127.0.0.1:9",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-default-apps",
        "--disable-domain-reliability",
        "--no-first-run",
        "--no-default-browser-check",
        "--user-data-dir=" + profile);
    ChromeDriverService service =
        new ChromeDriverService.Builder()
            .usingDriverExecutable(new File("/usr/bin/chromedriver"))
            .usingAnyFreePort()
            .build();
    driver = new ChromeDriver(service, options);
  }

  Object js(String script, Object... args) {
    return ((JavascriptExecutor) driver).executeScript(script, args);
  }

  /** Every address the page loaded (itself, its scripts, styles, API calls). */
  @SuppressWarnings("unchecked")
  List<String> loaded() {
    return (List<String>)
        js(
            "return [location.href].concat(performance.getEntriesByType('resource')"
                + ".map(e => e.name));");
  }

  /** The whole page (the window grown to its height) as target/screenshots/NAME.png. */
  Path screenshot(String name) throws IOException, InterruptedException {
    Number height =
        (Number)
            js(
                "return Math.ceil(Math.max(document.documentElement.scrollHeight,"
                    + " document.querySelector('main').getBoundingClientRect().bottom"
                    + " + window.scrollY));");
    // The window's height includes the browser's frame: give the page what it measured and more.
    int h = Math.min(6000, Math.max(700, height.intValue() + 140));
    driver.manage().window().setSize(new Dimension(1500, h));
    // The resized window is painted before the picture is taken; no assertion depends on it.
    Thread.sleep(300);
    Files.createDirectories(SCREENSHOTS);
    Path file = SCREENSHOTS.resolve(name + ".png");
    Files.write(file, driver.getScreenshotAs(OutputType.BYTES));
    driver.manage().window().setSize(new Dimension(1500, 1000));
    return file;
  }

  @Override
  public void close() throws IOException {
    try {
      driver.quit();
    } finally {
      try (var files = Files.walk(profile)) {
        files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
      }
    }
  }
}
