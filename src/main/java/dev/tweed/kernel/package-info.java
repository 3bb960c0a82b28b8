/**
 * The Java model of a Linux network namespace's packet path: a snapshot of its links, addresses,
 * routes, policy rules, neighbours, FDB, sysctls and rule sets (parsed from the kernel's own tools'
 * output), and the routing decision over it. Pure: nothing here touches the OS.
 */
package dev.tweed.kernel;
