package dev.tweed.rules.nft;

import java.util.List;
import java.util.Optional;
import java.util.stream.Collectors;

/** An element of a set or verdict map: its key's fields, a comment, and a map's verdict. */
public record NftElement(List<Field> key, Optional<String> comment, Optional<NftVerdict> verdict) {
  /** One field of a key, printed as nft prints it. */
  public sealed interface Field {
    String script();
  }

  /** An IPv4 address. */
  public record Address(String ip) implements Field {
    public String script() {
      return ip;
    }
  }

  /** A transport protocol by name (tcp, udp, sctp). */
  public record Protocol(String name) implements Field {
    public String script() {
      return name;
    }
  }

  /** A port number. */
  public record Port(int port) implements Field {
    public String script() {
      return Integer.toString(port);
    }
  }

  /** An interface name. */
  public record Interface(String name) implements Field {
    public String script() {
      return "\"" + name + "\"";
    }
  }

  public NftElement {
    key = List.copyOf(key);
  }

  public static NftElement of(Field... key) {
    return new NftElement(List.of(key), Optional.empty(), Optional.empty());
  }

  public static NftElement mapping(NftVerdict verdict, Field... key) {
    return new NftElement(List.of(key), Optional.empty(), Optional.of(verdict));
  }

  /** The key alone, as {@code delete element} names the element. */
  public String keyScript() {
    return key.stream().map(Field::script).collect(Collectors.joining(" . "));
  }

  public String script() {
    return keyScript()
        + comment.map(c -> " comment \"" + c + "\"").orElse("")
        + verdict.map(v -> " : " + v.script()).orElse("");
  }
}
