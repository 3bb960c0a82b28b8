package dev.tweed.kernel;

import java.util.Optional;

/**
 * One forwarding-database entry ({@code bridge -j fdb}): a bridge port's learned or static MAC, or
 * a VXLAN device's remote endpoint for a MAC.
 */
public record BridgeFdbEntry(
    String mac, String dev, Optional<String> master, Optional<String> dst, boolean self) {}
