package dev.tweed.it;

/** The podman test again in an IPv6-only lab: the runtime's container gets an IPv6 address only. */
class Ipv6OnlyPodmanIT extends PodmanIT {
  @Override
  String ipFamily() {
    return "ipv6";
  }
}
