package dev.tweed.lab.service;

import java.util.List;

/**
 * The NetworkPolicies ({@code NS/NAME}) that select a pod for each direction: a pod that some
 * policy selects for ingress is isolated for ingress and takes only what those policies allow.
 */
public record PodIsolation(String pod, List<String> ingress, List<String> egress) {
  public PodIsolation {
    ingress = List.copyOf(ingress);
    egress = List.copyOf(egress);
  }
}
