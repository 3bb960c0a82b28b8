package dev.tweed.lab.chaos;

/** A pod the soak probes: its name, node, network namespace, address and a TCP port it serves. */
public record PodTarget(String name, String node, String netns, String ip, int port) {}
