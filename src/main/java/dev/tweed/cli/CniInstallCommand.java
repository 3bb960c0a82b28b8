package dev.tweed.cli;

import dev.tweed.lab.CniInstaller;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** Writes the CNI plugin executable into a directory on a runtime's CNI_PATH. */
@Command(name = "cni-install", description = "Write the CNI plugin executable DIR/tweed-cni.")
public final class CniInstallCommand implements Callable<Integer> {
  @Parameters(index = "0", paramLabel = "DIR")
  Path dir;

  @Option(names = "--java", description = "Install the Java shim even where a C compiler exists.")
  boolean java;

  @Override
  public Integer call() throws Exception {
    String kind = java ? CniInstaller.install(dir, true) : CniInstaller.install(dir);
    System.out.println("installed " + dir.resolve("tweed-cni") + " (" + kind + " shim)");
    return 0;
  }
}
