package dev.tweed.lab;

/** An object the lab refuses, naming the object and the field at fault. */
public final class InvalidResourceException extends Exception {
  public InvalidResourceException(String object, String field, String problem) {
    super(object + ": " + field + ": " + problem);
  }
}
