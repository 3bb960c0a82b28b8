package dev.tweed.lab.service;

import java.util.List;

/** The transport protocols a request may name, checked the same way for the CLI and HTTP. */
final class Protocols {
  private Protocols() {}

  static String require(String proto, List<String> allowed, String field) {
    if (proto == null || !allowed.contains(proto)) {
      throw new IllegalArgumentException(
          field + " must be " + String.join(" or ", allowed) + ", got '" + proto + "'");
    }
    return proto;
  }

  static int port(int port, String field) {
    if (port < 1 || port > 65535) {
      throw new IllegalArgumentException(field + " must be 1-65535, got " + port);
    }
    return port;
  }
}
