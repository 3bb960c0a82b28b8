package dev.tweed.cli;

import dev.tweed.lab.service.LabService;
import dev.tweed.lab.web.LabWebServer;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code tweed lab ui}: the web view, served on the loopback address until interrupted. */
@Command(
    name = "ui",
    description =
        "Serve the web view of the lab (topology, flows, reachability, packet journeys) and its"
            + " JSON API on 127.0.0.1 until interrupted.")
final class LabUiCommand implements Callable<Integer> {
  @Mixin LabOption lab;

  @Option(
      names = "--port",
      defaultValue = "7480",
      description = "Port on 127.0.0.1 (default 7480; 0: any free port).")
  int port;

  @Override
  public Integer call() throws Exception {
    LabService service = lab.service();
    LabWebServer web = LabWebServer.start(service, port);
    CountDownLatch stopped = new CountDownLatch(1);
    Runtime.getRuntime()
        .addShutdownHook(
            new Thread(
                () -> {
                  web.close();
                  stopped.countDown();
                }));
    System.out.println(
        "web view of lab '" + service.layout().name() + "': " + web.address() + " (Ctrl-C stops)");
    System.out.flush();
    stopped.await();
    return 0;
  }
}
