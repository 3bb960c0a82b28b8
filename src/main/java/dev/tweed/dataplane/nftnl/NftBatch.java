package dev.tweed.dataplane.nftnl;

import dev.tweed.sys.NetlinkMessage;
import dev.tweed.sys.NfTablesSocket;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Supplier;

/**
 * nf_tables changes committed together: the kernel applies all of them or none. Each change keeps a
 * description of what it does, so that a refusal names the object the kernel refused.
 */
public final class NftBatch {
  /** A change and what it does, said only if the kernel refuses it. */
  private record Change(Supplier<String> what, NetlinkMessage message) {}

  private final List<Change> changes = new ArrayList<>();
  private int nextSetId = 1;

  /** Adds a change; {@code what} says what it does ("add set ip t s"). */
  public NftBatch add(String what, NetlinkMessage message) {
    changes.add(new Change(() -> what, message));
    return this;
  }

  /** Adds a change whose description is made only if the kernel refuses it. */
  public NftBatch add(Supplier<String> what, NetlinkMessage message) {
    changes.add(new Change(what, message));
    return this;
  }

  /** A number for a set created in this batch, by which later changes of it may refer to it. */
  public int newSetId() {
    return nextSetId++;
  }

  public int size() {
    return changes.size();
  }

  /**
   * The batch as sent: begin (sequence 0), the changes (1 to n), end (n + 1). Only the last change
   * asks for an acknowledgement: the kernel answers a refused change whether asked or not, and it
   * has processed the whole batch before the write returns, so the last answer comes after every
   * refusal. (An answer for each of 100,000 changes would need a receive buffer of some 100 MB: the
   * kernel charges each answer's whole buffer to it.)
   */
  public byte[] bytes() {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    out.writeBytes(NftMessages.batch(NftMessages.NFNL_MSG_BATCH_BEGIN).bytes(0));
    for (int i = 0; i < changes.size(); i++) {
      byte[] m = changes.get(i).message().bytes(i + 1);
      if (i < changes.size() - 1) {
        ByteBuffer f = ByteBuffer.wrap(m).order(ByteOrder.nativeOrder());
        f.putShort(6, (short) (f.getShort(6) & ~NftMessages.NLM_F_ACK));
      }
      out.writeBytes(m);
    }
    out.writeBytes(NftMessages.batch(NftMessages.NFNL_MSG_BATCH_END).bytes(changes.size() + 1));
    return out.toByteArray();
  }

  /** The kernel refused the batch: nothing of it was applied. */
  public static final class RefusedException extends RuntimeException {
    private final Map<String, String> refused;

    RefusedException(Map<String, String> refused) {
      super(
          "the kernel refused the nf_tables batch, which changed nothing: "
              + String.join(
                  "; ",
                  refused.entrySet().stream().map(e -> e.getKey() + ": " + e.getValue()).toList()));
      this.refused = Collections.unmodifiableMap(new LinkedHashMap<>(refused));
    }

    /** What each refused change was, and the kernel's reason. */
    public Map<String, String> refused() {
      return refused;
    }
  }

  /** Commits the batch; throws {@link RefusedException} if the kernel refused it. */
  public void commit(NfTablesSocket socket) {
    throwIfRefused(send(socket));
  }

  private static final int EEXIST = 17;

  /**
   * Commits the batch; returns false, having changed nothing, if the kernel's only objection was
   * that an object it was to create exclusively exists already; throws {@link RefusedException} for
   * any other refusal.
   */
  public boolean commitUnlessExisting(NfTablesSocket socket) {
    Map<Integer, Integer> refused = send(socket);
    if (refused.size() == 1 && refused.values().iterator().next() == EEXIST) {
      return false;
    }
    throwIfRefused(refused);
    return true;
  }

  /** The refused changes' sequence numbers and errnos. */
  private Map<Integer, Integer> send(NfTablesSocket socket) {
    if (changes.isEmpty()) {
      return Map.of();
    }
    return socket.commit(bytes(), 1, changes.size()).refused();
  }

  private void throwIfRefused(Map<Integer, Integer> byErrno) {
    if (byErrno.isEmpty()) {
      return;
    }
    Map<String, String> refused = new LinkedHashMap<>();
    new TreeMap<>(byErrno)
        .forEach(
            (seq, errno) ->
                refused.put(
                    "#" + seq + " " + changes.get(seq - 1).what().get(),
                    NfTablesSocket.reason(errno)));
    throw new RefusedException(refused);
  }
}
