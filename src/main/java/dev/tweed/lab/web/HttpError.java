package dev.tweed.lab.web;

/** A request the API refuses with this status; the message is shown to the user as it is. */
final class HttpError extends RuntimeException {
  private final int status;

  HttpError(int status, String message) {
    super(message);
    this.status = status;
  }

  int status() {
    return status;
  }
}
