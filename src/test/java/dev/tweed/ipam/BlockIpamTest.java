package dev.tweed.ipam;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tweed.datastore.JournalDatastore;
import dev.tweed.model.Cidr;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.Size;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class BlockIpamTest {
  @TempDir Path dir;

  private static final IpamPool POOL = new IpamPool(Cidr.parse("10.244.0.0/16"), 26);

  @Test
  void firstAddressOfTheFirstBlockIsKeptForTheTunnel() throws Exception {
    try (var store = new JournalDatastore(dir)) {
      var ipam = new BlockIpam(store, POOL, "node-1");
      assertThat(ipam.assign("c1.eth0", "default/a").address()).isEqualTo("10.244.0.1");
      assertThat(ipam.assign("c2.eth0", "default/b").address()).isEqualTo("10.244.0.2");
    }
  }

  @Test
  void assignIsIdempotentPerHandleAndReleaseFreesTheAddress() throws Exception {
    try (var store = new JournalDatastore(dir)) {
      var ipam = new BlockIpam(store, POOL, "node-1");
      String a = ipam.assign("c1.eth0", "p").address();
      assertThat(ipam.assign("c1.eth0", "p").address()).isEqualTo(a);
      assertThat(ipam.release("c1.eth0")).containsExactly(a);
      assertThat(ipam.release("c1.eth0")).isEmpty();
    }
  }

  @Test
  void nodesClaimSeparateBlocksAndANewBlockWhenFull() throws Exception {
    try (var store = new JournalDatastore(dir)) {
      var n1 = new BlockIpam(store, POOL, "node-1");
      var n2 = new BlockIpam(store, POOL, "node-2");
      assertThat(n2.assign("x.eth0", "p").block()).isEqualTo(Cidr.parse("10.244.0.0/26"));
      assertThat(n1.assign("y.eth0", "p").block()).isEqualTo(Cidr.parse("10.244.0.64/26"));
      for (int i = 0; i < 62; i++) {
        n1.assign("z" + i + ".eth0", "p");
      }
      // 63 usable addresses per /26: the 64th pod of node-1 needs a block of its own.
      assertThat(n1.nodeBlocks()).hasSize(1);
      assertThat(n1.assign("last.eth0", "p").block()).isEqualTo(Cidr.parse("10.244.0.128/26"));
      assertThat(n1.nodeBlocks()).hasSize(2);
    }
  }

  @Test
  void exhaustedPoolIsAClearError() throws Exception {
    try (var store = new JournalDatastore(dir)) {
      var ipam = new BlockIpam(store, new IpamPool(Cidr.parse("10.9.0.0/29"), 30), "n");
      // Two /30 blocks with 3 usable addresses each.
      for (int i = 0; i < 6; i++) {
        ipam.assign("h" + i, "p");
      }
      assertThatThrownBy(() -> ipam.assign("h7", "p"))
          .isInstanceOf(IpamExhaustedException.class)
          .hasMessageContaining("10.9.0.0/29");
    }
  }

  @Test
  void aDualStackAssignmentTakesBothAddressesOrNeither() throws Exception {
    try (var store = new JournalDatastore(dir)) {
      var v4 = new BlockIpam(store, POOL, "n");
      // One /126 block in the IPv6 pool: three addresses.
      var v6 = new BlockIpam(store, new IpamPool(Cidr.parse("fd00::/126"), 126), "n");
      var both = List.of(v4, v6);
      var first = BlockIpam.assignAll(store, both, "a.eth0", "a");
      assertThat(first).extracting(BlockIpam.Assignment::address).hasSize(2);
      // Asked again for the same handle, the same addresses and no write.
      long before = store.currentRevision();
      assertThat(BlockIpam.assignAll(store, both, "a.eth0", "a")).isEqualTo(first);
      assertThat(store.currentRevision()).isEqualTo(before);
      BlockIpam.assignAll(store, both, "b.eth0", "b");
      BlockIpam.assignAll(store, both, "c.eth0", "c");
      // The IPv6 pool is full: the fourth pod gets no IPv4 address either.
      assertThatThrownBy(() -> BlockIpam.assignAll(store, both, "d.eth0", "d"))
          .isInstanceOf(IpamExhaustedException.class)
          .hasMessageContaining("IPv6 pool exhausted");
      assertThat(v4.release("d.eth0")).isEmpty();
    }
  }

  @Test
  void allocationsSurviveReopeningTheStore() throws Exception {
    String a;
    try (var store = new JournalDatastore(dir)) {
      a = new BlockIpam(store, POOL, "node-1").assign("c1.eth0", "p").address();
    }
    try (var store = new JournalDatastore(dir)) {
      var ipam = new BlockIpam(store, POOL, "node-1");
      assertThat(ipam.assign("c1.eth0", "p").address()).isEqualTo(a);
      assertThat(ipam.assign("c2.eth0", "p").address()).isNotEqualTo(a);
    }
  }

  @Test
  void twoHundredConcurrentAssignsFromTwoStoreInstancesAreDistinct() throws Exception {
    // Two JournalDatastore instances on one directory behave like two processes sharing a lab.
    try (var s1 = new JournalDatastore(dir);
        var s2 = new JournalDatastore(dir);
        ExecutorService pool = Executors.newFixedThreadPool(16)) {
      List<Future<String>> fs = new ArrayList<>();
      for (int i = 0; i < 200; i++) {
        var store = i % 2 == 0 ? s1 : s2;
        String node = i % 3 == 0 ? "node-2" : "node-1";
        int n = i;
        fs.add(
            pool.submit(
                () -> new BlockIpam(store, POOL, node).assign("c" + n + ".eth0", "p").address()));
      }
      Set<String> seen = new HashSet<>();
      for (var f : fs) {
        seen.add(f.get());
      }
      assertThat(seen).hasSize(200);
    }
  }

  /** Any interleaving of assigns and releases never gives one address to two live handles. */
  @Property(tries = 40)
  void neverHandsOutAnAddressTwice(
      @ForAll @Size(min = 1, max = 120) List<@IntRange(min = 0, max = 30) Integer> ops)
      throws Exception {
    Path d = Files.createTempDirectory("ipam");
    try (var store = new JournalDatastore(d)) {
      var ipam = new BlockIpam(store, new IpamPool(Cidr.parse("10.1.0.0/24"), 28), "n");
      var live = new ConcurrentHashMap<String, String>();
      for (int op : ops) {
        String handle = "h" + (op % 15);
        if (op >= 15 || !live.containsKey(handle)) {
          String addr = ipam.assign(handle, "p").address();
          String prev = live.put(handle, addr);
          assertThat(prev == null || prev.equals(addr)).isTrue();
        } else {
          ipam.release(handle);
          live.remove(handle);
        }
        assertThat(new HashSet<>(live.values())).hasSameSizeAs(live.values());
      }
    }
  }
}
