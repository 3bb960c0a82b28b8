package dev.tweed.it;

/**
 * Every lab test again in a dual-stack lab: both addresses on every pod, both families reachable
 * between every pair, both tunnels' drift repaired.
 */
class DualStackLabIT extends LabIT {
  @Override
  String ipFamily() {
    return "dual";
  }
}
