package dev.tweed.lab.service;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * A node's agent: whether its process runs, whether it says it is ready, and its health report as
 * it gave it (an empty object when it does not answer).
 */
public record AgentStatus(String node, boolean running, long pid, boolean ready, JsonNode health) {}
