package dev.tweed.sys;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/** Runs an external program to completion, feeding it stdin and collecting stdout and stderr. */
public final class Command {
  private Command() {}

  /** The outcome of one run. */
  public record Result(int exitCode, String stdout, String stderr) {
    public boolean ok() {
      return exitCode == 0;
    }
  }

  /** Runs and throws {@link CommandFailedException} on a non-zero exit. */
  public static String run(List<String> argv) {
    return run(argv, "");
  }

  public static String run(List<String> argv, String stdin) {
    Result r = exec(argv, stdin, Map.of());
    if (!r.ok()) {
      throw new CommandFailedException(argv, stdin, r.exitCode(), r.stderr());
    }
    return r.stdout();
  }

  public static Result exec(List<String> argv, String stdin, Map<String, String> env) {
    return exec(argv, stdin.getBytes(StandardCharsets.UTF_8), env, 120);
  }

  public static Result exec(
      List<String> argv, byte[] stdin, Map<String, String> env, long timeoutSeconds) {
    ProcessBuilder pb = new ProcessBuilder(new ArrayList<>(argv));
    pb.environment().putAll(env);
    try {
      Process p = pb.start();
      CompletableFuture<byte[]> out = drain(p.getInputStream());
      CompletableFuture<byte[]> err = drain(p.getErrorStream());
      try (var in = p.getOutputStream()) {
        in.write(stdin);
      } catch (IOException ignored) {
        // The program may exit without reading its input; its exit code tells what happened.
      }
      if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        p.waitFor();
        return new Result(124, text(out), text(err) + "\ntimed out after " + timeoutSeconds + "s");
      }
      return new Result(p.exitValue(), text(out), text(err));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot run " + String.join(" ", argv), e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted running " + String.join(" ", argv), e);
    }
  }

  private static CompletableFuture<byte[]> drain(InputStream s) {
    return CompletableFuture.supplyAsync(
        () -> {
          try (s) {
            ByteArrayOutputStream b = new ByteArrayOutputStream();
            s.transferTo(b);
            return b.toByteArray();
          } catch (IOException e) {
            return new byte[0];
          }
        },
        Thread::startVirtualThread);
  }

  private static String text(CompletableFuture<byte[]> f) {
    return new String(f.join(), StandardCharsets.UTF_8);
  }
}
