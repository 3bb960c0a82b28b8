package dev.tweed.agent;

import java.nio.file.Path;
import java.time.Duration;

/** Where the agent finds its store and serves its socket, and how often it resyncs. */
public record AgentConfig(String nodeName, Path storeDir, Path socket, Duration resyncInterval) {}
