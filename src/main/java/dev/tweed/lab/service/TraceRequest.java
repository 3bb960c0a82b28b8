package dev.tweed.lab.service;

import dev.tweed.model.IpFamily;
import java.util.List;
import java.util.Optional;

/**
 * The journey of one packet from a pod to a pod ({@code NS/POD}) or an address. {@code pick}
 * follows one branch of the random forks, {@code reply} follows the answers back, {@code verify}
 * also sends the packet for real and compares the kernel's path with the model's. {@code family}
 * says which address of the pods the packet goes between (default: the address's family, else the
 * pods' primary one).
 */
public record TraceRequest(
    String from,
    String to,
    int port,
    String proto,
    int sport,
    Optional<Integer> pick,
    boolean reply,
    boolean verify,
    Optional<IpFamily> family) {
  public TraceRequest {
    Protocols.require(proto, List.of("tcp", "udp", "icmp"), "proto");
    if (!proto.equals("icmp")) {
      Protocols.port(port, "port");
    }
    if (verify && proto.equals("icmp")) {
      throw new IllegalArgumentException("verify sends TCP and UDP packets only");
    }
    if (pick.isPresent() && pick.get() < 1) {
      throw new IllegalArgumentException("pick counts branches from 1, got " + pick.get());
    }
  }

  /** A plain journey: source port 40000, every branch, no reply, no verification. */
  public static TraceRequest of(String from, String to, int port, String proto) {
    return new TraceRequest(
        from, to, port, proto, 40000, Optional.empty(), false, false, Optional.empty());
  }
}
