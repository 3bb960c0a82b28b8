package dev.tweed.lab;

import dev.tweed.sys.Command;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Map;

/**
 * Writes the {@code tweed-cni} executable. The native shim (a small C program that hands the call
 * to the node agent) is compiled where a C compiler exists; elsewhere a script starts the Java
 * shim, which works the same but pays for a JVM start on every call.
 */
public final class CniInstaller {
  private CniInstaller() {}

  /** Returns which kind was installed: "native" or "java". */
  public static String install(Path dir) throws IOException {
    return install(dir, !Command.exec(List.of("sh", "-c", "command -v cc"), "", Map.of()).ok());
  }

  public static String install(Path dir, boolean forceJava) throws IOException {
    Files.createDirectories(dir);
    Path target = dir.resolve("tweed-cni");
    Path tmp = dir.resolve(".tweed-cni.tmp");
    if (!forceJava) {
      Path src = dir.resolve(".tweed-cni.c");
      try (InputStream in = CniInstaller.class.getResourceAsStream("/tweed-cni.c")) {
        Files.write(src, in.readAllBytes());
      }
      Command.run(List.of("cc", "-O2", "-Wall", "-o", tmp.toString(), src.toString()));
      Files.delete(src);
    } else {
      List<String> java = LabProcesses.javaCommand();
      StringBuilder sb =
          new StringBuilder(
              "#!/bin/sh\n# tweed-cni: the Java shim (no C compiler was found)\nexec");
      for (String a : java.subList(0, 2)) {
        sb.append(' ').append(a);
      }
      sb.append(" -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Xshare:auto -jar ")
          .append(java.get(java.indexOf("-jar") + 1))
          .append(" cni-shim\n");
      Files.writeString(tmp, sb.toString());
    }
    Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rwxr-xr-x"));
    Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    return forceJava ? "java" : "native";
  }
}
