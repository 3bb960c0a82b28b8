package dev.tweed.trace.verify;

/**
 * One program's decision on the packet, on the model's side or the kernel's: which program on which
 * device, what it did (its action and the action's target), and the packet it left. Two steps are
 * the same when all of those agree.
 *
 * @param action "pass", "pass, tunnel to R", "redirect_peer DEV", "redirect DEV", "redirect DEV,
 *     tunnel to R", "redirect_neigh DEV", "drop REASON" or "reject"
 * @param packet the packet as the program left it ("" where it is not compared: a reject's)
 */
public record ProgramStep(
    String netns, String program, String device, String action, String packet) {

  boolean sameAs(ProgramStep o) {
    return equals(o);
  }

  String where() {
    return program + " on " + device;
  }

  @Override
  public String toString() {
    return where() + ": " + action + (packet.isEmpty() ? "" : " (" + packet + ")");
  }
}
