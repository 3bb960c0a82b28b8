package dev.tweed.lab.service;

/** A pod, node, policy or lab that the request names does not exist (HTTP 404). */
public final class LabNotFoundException extends IllegalArgumentException {
  public LabNotFoundException(String message) {
    super(message);
  }
}
