package dev.tweed.cni;

/** The operations of CNI 1.1. */
public enum CniCommand {
  ADD,
  DEL,
  CHECK,
  STATUS,
  GC,
  VERSION
}
