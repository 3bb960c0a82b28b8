package dev.tweed.cli;

import dev.tweed.cni.JavaCniShim;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;

/** The CNI plugin's Java shim: what {@code tweed-cni} runs where no C compiler was found. */
@Command(name = "cni-shim", hidden = true, description = "Act as the tweed-cni plugin (Java shim).")
public final class CniShimCommand implements Callable<Integer> {
  @Override
  public Integer call() throws Exception {
    int code = JavaCniShim.run();
    System.out.flush();
    return code;
  }
}
