/** The edge to the operating system: running commands, entering network namespaces, file locks. */
package dev.tweed.sys;
