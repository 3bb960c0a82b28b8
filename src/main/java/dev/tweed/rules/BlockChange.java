package dev.tweed.rules;

import java.util.Optional;

/**
 * One block of a rendered ruleset (a service port's chains, a policy endpoint's rules) that changed
 * since the last render: what it rendered to before and what it renders to now, each empty when the
 * block was not there. Writers rewrite these blocks and nothing else.
 *
 * @param <R> what a block renders to
 */
public record BlockChange<R>(String block, Optional<R> before, Optional<R> after) {}
