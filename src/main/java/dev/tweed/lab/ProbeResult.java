package dev.tweed.lab;

/** One probe: connected to whom, or why not, and how long it took. */
public record ProbeResult(boolean connected, String answer, String reason, double millis) {}
