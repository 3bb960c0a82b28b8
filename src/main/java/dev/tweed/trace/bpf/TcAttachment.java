package dev.tweed.trace.bpf;

/**
 * A program attached to a device's tc hook, as {@code bpftool net show} lists it.
 *
 * @param direction {@code ingress} or {@code egress}
 * @param program the program's name ({@code from_container}, ...)
 */
public record TcAttachment(String device, int ifindex, String direction, String program) {}
