package dev.tweed.dataplane;

import dev.tweed.sys.NfTablesSocket;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Whether anyone but this agent has written nf_tables rules in its namespace (nft's, and
 * iptables-nft's, which this host's iptables is) since the agent's own last write. nf_tables
 * numbers every transaction it commits; the writers note the number after each of theirs, and a
 * drift check that finds the number unmoved knows the ruleset is the one they left, without listing
 * a table. A write by another process between a writer's sync and its reading of the number would
 * go unnoticed this way, which is why the periodic full comparison stays, at a much longer period.
 *
 * <p>ipset contents are not nf_tables state and move no generation: the iptables policy writer's
 * drift check counts each set's members instead (see {@link PolicyIptablesWriter#setSizesMoved}).
 */
public final class RulesetGeneration {
  private static final Logger LOG = LoggerFactory.getLogger(RulesetGeneration.class);

  /** The generation after the agent's last write; -1 before the first, or when unreadable. */
  private long afterOwnWrite = -1;

  /** After one of the agent's writers committed, or compared the kernel with what it wants. */
  public synchronized void ownWrite() {
    afterOwnWrite = read();
  }

  /** True when a transaction not the agent's may have been committed since its last write. */
  public synchronized boolean touchedByOthers() {
    return afterOwnWrite < 0 || read() != afterOwnWrite;
  }

  /** This namespace's ruleset generation, or -1 when it cannot be read (then: compare). */
  private static long read() {
    try (NfTablesSocket s = NfTablesSocket.open()) {
      return s.generation();
    } catch (RuntimeException e) {
      LOG.warn("event=nft-generation-unreadable error=\"{}\"", e.getMessage());
      return -1;
    }
  }
}
