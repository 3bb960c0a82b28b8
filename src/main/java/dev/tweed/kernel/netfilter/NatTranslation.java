package dev.tweed.kernel.netfilter;

/** One address translation: {@code kind} DNAT, SNAT, MASQUERADE or REDIRECT, before → after. */
public record NatTranslation(String kind, String before, String after, String where) {}
