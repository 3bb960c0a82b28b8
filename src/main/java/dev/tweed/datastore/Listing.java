package dev.tweed.datastore;

import java.util.List;

/** The entries under a prefix as of {@code revision}; a watch continues from there. */
public record Listing(List<Entry> entries, long revision) {}
