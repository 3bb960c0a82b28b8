/**
 * The edge to the operating system: running commands, entering network namespaces, file locks, and
 * through the Foreign Function and Memory API a Unix socket that carries a descriptor and a route
 * netlink socket.
 */
package dev.tweed.sys;
