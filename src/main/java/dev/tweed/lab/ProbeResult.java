package dev.tweed.lab;

/**
 * One probe: connected to whom, or why not, and how long it took; {@code localPort} is the TCP
 * client's own port once it connected (0 before, and for UDP), which tells a connection that was
 * never made from one made and then left without an answer.
 */
public record ProbeResult(
    boolean connected, String answer, String reason, double millis, int localPort) {
  public ProbeResult(boolean connected, String answer, String reason, double millis) {
    this(connected, answer, reason, millis, 0);
  }
}
