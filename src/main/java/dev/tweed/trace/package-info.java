/**
 * The packet journey: captures namespaces' state, follows a packet through it with the kernel model
 * (across veths, bridges and VXLAN, from namespace to namespace) and narrates every hop; checks the
 * model against the kernel's own trace of the same packet.
 */
package dev.tweed.trace;
