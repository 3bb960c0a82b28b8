package dev.tweed.datastore;

import com.fasterxml.jackson.databind.JsonNode;

/** A stored value with the revisions at which it was created and last modified (as etcd). */
public record Entry(String key, JsonNode value, long createRevision, long modRevision) {}
