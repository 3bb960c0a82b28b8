/**
 * The calculation graph: pure functions from datastore resources to a node's desired dataplane.
 * Nothing here touches the operating system; the same inputs give the same output, byte for byte.
 */
package dev.tweed.calc;
