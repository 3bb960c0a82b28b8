package dev.tweed.ipam;

import dev.tweed.datastore.ConflictException;
import dev.tweed.datastore.Datastore;
import dev.tweed.datastore.Entry;
import dev.tweed.model.Cidr;
import dev.tweed.model.IpamBlock;
import dev.tweed.model.ResourceKey;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.Predicate;

/**
 * Assigns and releases pod addresses for one node. Every change is a compare-and-swap of one block
 * in the datastore, retried on conflict, so that concurrent calls in any number of processes never
 * hand out an address twice. Assignment is idempotent per handle.
 */
public final class BlockIpam {
  private static final int MAX_ATTEMPTS = 1000;
  private final Datastore store;
  private final IpamPool pool;
  private final String node;

  public BlockIpam(Datastore store, IpamPool pool, String node) {
    this.store = store;
    this.pool = pool;
    this.node = node;
  }

  /** An address and the block it came from. */
  public record Assignment(String address, Cidr block) {}

  public Assignment assign(String handle, String pod) throws IpamExhaustedException {
    return assignAll(store, List.of(this), handle, pod).getFirst();
  }

  /**
   * An address for {@code handle} from each of {@code ipams} (one per family), written together:
   * the blocks that change are compare-and-swapped in one {@link Datastore#putAll} (one journal
   * append, one etcd transaction), so a dual-stack ADD costs one durable write, not one per family.
   * Either family exhausted throws before anything of the handle's is written.
   */
  public static List<Assignment> assignAll(
      Datastore store, List<BlockIpam> ipams, String handle, String pod)
      throws IpamExhaustedException {
    for (int attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      List<Planned> plans = new ArrayList<>();
      for (BlockIpam ipam : ipams) {
        plans.add(ipam.plan(handle, pod));
      }
      List<Datastore.Put> writes = plans.stream().flatMap(p -> p.write().stream()).toList();
      try {
        if (!writes.isEmpty()) {
          store.putAll(writes);
        }
        return plans.stream().map(Planned::assignment).toList();
      } catch (ConflictException lost) {
        // Another claimant changed a block first: read again and retry.
      }
    }
    throw new IllegalStateException("IPAM did not converge after " + MAX_ATTEMPTS + " attempts");
  }

  /** An address and the write that takes it (none when the handle holds it already). */
  private record Planned(Assignment assignment, Optional<Datastore.Put> write) {}

  /**
   * The address the handle holds in this pool, or the first free one of this node's blocks as a
   * conditional write, claiming a new block first when none has room.
   */
  private Planned plan(String handle, String pod) throws IpamExhaustedException {
    for (int attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      List<Entry> mine = nodeBlocks();
      for (Entry e : mine) {
        IpamBlock b = IpamBlock.from(e.value());
        Optional<Integer> held = b.indexOfHandle(handle);
        if (held.isPresent()) {
          return new Planned(
              new Assignment(b.cidr().address(held.get()).toString(), b.cidr()), Optional.empty());
        }
      }
      for (Entry e : mine) {
        IpamBlock b = IpamBlock.from(e.value());
        Optional<Integer> free = b.firstFree();
        if (free.isPresent()) {
          IpamBlock next = b.with(free.get(), new IpamBlock.Allocation(handle, pod));
          return new Planned(
              new Assignment(b.cidr().address(free.get()).toString(), b.cidr()),
              Optional.of(new Datastore.Put(e.key(), next.toJson(), e.modRevision())));
        }
      }
      try {
        claimBlock();
      } catch (ConflictException lost) {
        // Another node claimed that block first: read again and retry.
      }
    }
    throw new IllegalStateException("IPAM did not converge after " + MAX_ATTEMPTS + " attempts");
  }

  /** Claims the lowest free block of the pool for this node (CAS create). */
  public Cidr claimBlock() throws IpamExhaustedException, ConflictException {
    Set<String> taken = new HashSet<>();
    for (Entry e : store.list(ResourceKey.kindPrefix(IpamBlock.KIND)).entries()) {
      taken.add(e.key());
    }
    for (long i = 0; i < pool.blockCount(); i++) {
      IpamBlock b = new IpamBlock(pool.block(i), node, Map.of());
      if (!taken.contains(b.key().toString())) {
        store.put(b.key().toString(), b.toJson(), Datastore.ABSENT);
        return b.cidr();
      }
    }
    throw new IpamExhaustedException(
        pool.family().apiName()
            + " pool exhausted: no free block of /"
            + pool.blockPrefixLength()
            + " in "
            + pool.cidr());
  }

  /** Releases every address held by {@code handle}; returns the addresses released. */
  public List<String> release(String handle) {
    return releaseWhere(handle::equals);
  }

  /** Releases every address whose handle fails {@code keep}: the IPAM half of CNI GC. */
  public List<String> releaseWhere(Predicate<String> shouldRelease) {
    for (int attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      List<String> released = new ArrayList<>();
      try {
        for (Entry e : nodeBlocks()) {
          IpamBlock b = IpamBlock.from(e.value());
          IpamBlock next = b;
          for (var a : b.allocations().entrySet()) {
            if (shouldRelease.test(a.getValue().handle())) {
              next = next.without(a.getKey());
              released.add(b.cidr().address(a.getKey()).toString());
            }
          }
          if (next != b) {
            store.put(e.key(), next.toJson(), e.modRevision());
          }
        }
        return released;
      } catch (ConflictException lost) {
        // Retry on the fresh state; releases already written are simply not found again.
      }
    }
    throw new IllegalStateException("IPAM release did not converge");
  }

  /**
   * This node's blocks of this pool in claim order (ascending address: claims always take the
   * lowest); the node's blocks of the other family's pool are another {@code BlockIpam}'s.
   */
  public List<Entry> nodeBlocks() {
    return store.list(ResourceKey.kindPrefix(IpamBlock.KIND)).entries().stream()
        .filter(e -> node.equals(e.value().path("spec").path("node").asText()))
        .filter(e -> pool.cidr().covers(cidrOf(e)))
        .sorted(Comparator.comparing(BlockIpam::cidrOf))
        .toList();
  }

  private static Cidr cidrOf(Entry e) {
    return Cidr.parse(e.value().path("spec").path("cidr").asText());
  }
}
