package dev.tweed.datastore;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.NullNode;
import dev.tweed.model.Json;
import dev.tweed.sys.NamespaceTcpForwarder;
import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.Client;
import io.etcd.jetcd.KeyValue;
import io.etcd.jetcd.Watch;
import io.etcd.jetcd.common.exception.CompactedException;
import io.etcd.jetcd.common.exception.ErrorCode;
import io.etcd.jetcd.common.exception.EtcdException;
import io.etcd.jetcd.kv.GetResponse;
import io.etcd.jetcd.kv.TxnResponse;
import io.etcd.jetcd.op.Cmp;
import io.etcd.jetcd.op.CmpTarget;
import io.etcd.jetcd.op.Op;
import io.etcd.jetcd.options.DeleteOption;
import io.etcd.jetcd.options.GetOption;
import io.etcd.jetcd.options.PutOption;
import io.etcd.jetcd.options.WatchOption;
import io.etcd.jetcd.watch.WatchEvent;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;
import javax.net.ssl.SSLException;

/**
 * The datastore in an etcd cluster. Resources are JSON values under {@value #ROOT} followed by
 * their resource key ({@code /tweed/Kind/name}, {@code /tweed/Kind/namespace/name}); revisions are
 * etcd's own, so list-then-watch and compare-and-swap keep their meaning exactly. A
 * compare-and-swap is one etcd transaction comparing the key's mod revision (its create revision
 * for "absent"), so two writers can never both win, whichever member leads.
 */
public final class EtcdDatastore implements Datastore {
  public static final String ROOT = "/tweed/";
  private final Client client;
  private final String root;
  private final Duration timeout;
  private final List<NamespaceTcpForwarder> forwarders;

  /** The members' endpoints as given, and the addresses this process connects to for each. */
  private final List<String> endpoints;

  private final List<String> targets;

  /** One member's answer to a status call: healthy when it answered at all. */
  public record MemberStatus(String endpoint, boolean healthy, long memberId, long leaderId) {}

  private EtcdDatastore(
      Client client,
      String root,
      Duration timeout,
      List<NamespaceTcpForwarder> forwarders,
      List<String> endpoints,
      List<String> targets) {
    this.client = client;
    this.root = root;
    this.timeout = timeout;
    this.forwarders = forwarders;
    this.endpoints = List.copyOf(endpoints);
    this.targets = List.copyOf(targets);
  }

  /**
   * Connects to the members at {@code endpoints} ({@code http://IP:PORT}); with {@code viaNetns},
   * through loopback forwarders whose far ends are opened inside that network namespace.
   */
  public static EtcdDatastore connect(
      List<String> endpoints, Optional<Path> viaNetns, Duration timeout, Optional<EtcdTls> tls) {
    return connect(endpoints, viaNetns, timeout, ROOT, tls);
  }

  /** As above, with the keys under {@code root} instead of {@value #ROOT} (tests isolate so). */
  public static EtcdDatastore connect(
      List<String> endpoints,
      Optional<Path> viaNetns,
      Duration timeout,
      String root,
      Optional<EtcdTls> tls) {
    DatastoreSpec.checkSchemes(endpoints, tls);
    if (!root.startsWith("/") || !root.endsWith("/")) {
      throw new IllegalArgumentException("an etcd key root starts and ends with '/': " + root);
    }
    if (endpoints.isEmpty()) {
      throw new IllegalArgumentException("no etcd endpoints given");
    }
    List<NamespaceTcpForwarder> forwarders = new ArrayList<>();
    List<String> targets = new ArrayList<>();
    for (String e : endpoints) {
      URI u = URI.create(e);
      if (u.getHost() == null || u.getPort() < 0) {
        throw new IllegalArgumentException("not an etcd endpoint (http[s]://IP:PORT): " + e);
      }
      if (viaNetns.isPresent()) {
        NamespaceTcpForwarder f =
            new NamespaceTcpForwarder(
                viaNetns.get(), new InetSocketAddress(u.getHost(), u.getPort()));
        forwarders.add(f);
        // The members' certificates name 127.0.0.1 too, so TLS checks them through the forwarder.
        targets.add(u.getScheme() + "://127.0.0.1:" + f.local().getPort());
      } else {
        targets.add(e);
      }
    }
    var builder = Client.builder();
    if (tls.isPresent()) {
      EtcdTls t = tls.get();
      try {
        builder.sslContext(
            b ->
                b.trustManager(t.caFile().toFile())
                    .keyManager(t.certFile().toFile(), t.keyFile().toFile()));
      } catch (SSLException | IllegalArgumentException e) {
        throw new IllegalArgumentException(
            "cannot use the etcd TLS files " + t + ": " + e.getMessage(), e);
      }
    }
    Client client =
        builder
            .endpoints(targets.toArray(String[]::new))
            .connectTimeout(Duration.ofSeconds(2))
            // A dead member's connection is noticed by keepalive, not by the next call's timeout.
            .keepaliveTime(Duration.ofSeconds(5))
            .keepaliveTimeout(Duration.ofSeconds(3))
            .keepaliveWithoutCalls(true)
            .build();
    return new EtcdDatastore(client, root, timeout, List.copyOf(forwarders), endpoints, targets);
  }

  static ByteSequence bytes(String s) {
    return ByteSequence.from(s, StandardCharsets.UTF_8);
  }

  private String keyOf(KeyValue kv) {
    return kv.getKey().toString(StandardCharsets.UTF_8).substring(root.length());
  }

  private Entry entry(KeyValue kv) {
    String text = kv.getValue().toString(StandardCharsets.UTF_8);
    JsonNode value = text.isEmpty() ? NullNode.getInstance() : Json.parse(text);
    return new Entry(keyOf(kv), value, kv.getCreateRevision(), kv.getModRevision());
  }

  /** Whether etcd refused the call for its client: no role of the user allows it. */
  private static boolean denied(Throwable t) {
    if (t instanceof EtcdException x && x.getErrorCode() == ErrorCode.PERMISSION_DENIED) {
      return true;
    }
    return io.grpc.Status.fromThrowable(t).getCode() == io.grpc.Status.Code.PERMISSION_DENIED;
  }

  /** The jetcd client, for setting up etcd's own access control. */
  Client client() {
    return client;
  }

  <T> T await(CompletableFuture<T> f, String what) {
    try {
      return f.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
    } catch (ExecutionException e) {
      if (denied(e.getCause())) {
        throw new AccessDeniedException(what, e.getCause());
      }
      f.cancel(true);
      throw new DatastoreUnavailableException(what, e);
    } catch (TimeoutException e) {
      f.cancel(true);
      throw new DatastoreUnavailableException(what, e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new DatastoreUnavailableException(what, e);
    }
  }

  @Override
  public Listing list(String prefix) {
    GetResponse r =
        await(
            client
                .getKVClient()
                .get(bytes(root + prefix), GetOption.builder().isPrefix(true).build()),
            "list " + prefix);
    return new Listing(r.getKvs().stream().map(this::entry).toList(), r.getHeader().getRevision());
  }

  @Override
  public long currentRevision() {
    GetResponse r =
        await(
            client.getKVClient().get(bytes(root), GetOption.builder().withCountOnly(true).build()),
            "revision");
    return r.getHeader().getRevision();
  }

  @Override
  public Optional<Entry> get(String key) {
    GetResponse r = await(client.getKVClient().get(bytes(root + key)), "get " + key);
    return r.getKvs().stream().findFirst().map(this::entry);
  }

  @Override
  public long put(String key, JsonNode value, long expectedModRevision) throws ConflictException {
    ByteSequence k = bytes(root + key);
    Op put = Op.put(k, bytes(Json.write(value)), PutOption.DEFAULT);
    return transact(key, k, expectedModRevision, put, "put " + key);
  }

  /** One etcd transaction: every comparison, then every put, or the keys read back to say why. */
  @Override
  public long putAll(List<Put> puts) throws ConflictException {
    List<Cmp> cmps = new ArrayList<>();
    List<Op> writes = new ArrayList<>();
    List<Op> reads = new ArrayList<>();
    for (Put p : puts) {
      ByteSequence k = bytes(root + p.key());
      if (p.expectedModRevision() != ANY) {
        cmps.add(condition(k, p.expectedModRevision()));
      }
      writes.add(Op.put(k, bytes(Json.write(p.value())), PutOption.DEFAULT));
      reads.add(Op.get(k, GetOption.DEFAULT));
    }
    String what = "put " + puts.stream().map(Put::key).toList();
    TxnResponse r =
        await(
            client
                .getKVClient()
                .txn()
                .If(cmps.toArray(Cmp[]::new))
                .Then(writes.toArray(Op[]::new))
                .Else(reads.toArray(Op[]::new))
                .commit(),
            what);
    if (!r.isSucceeded()) {
      // The first key whose revision is not the one expected.
      for (int i = 0; i < puts.size(); i++) {
        Put p = puts.get(i);
        long actual =
            r.getGetResponses().get(i).getKvs().stream()
                .mapToLong(KeyValue::getModRevision)
                .findFirst()
                .orElse(0);
        if (p.expectedModRevision() != ANY && actual != p.expectedModRevision()) {
          throw new ConflictException(p.key(), p.expectedModRevision(), actual);
        }
      }
      throw new ConflictException(puts.getFirst().key(), puts.getFirst().expectedModRevision(), -1);
    }
    return r.getHeader().getRevision();
  }

  @Override
  public long delete(String key, long expectedModRevision) throws ConflictException {
    ByteSequence k = bytes(root + key);
    if (expectedModRevision == ANY) {
      var r = await(client.getKVClient().delete(k), "delete " + key);
      return r.getDeleted() == 0 ? 0 : r.getHeader().getRevision();
    }
    return transact(
        key, k, expectedModRevision, Op.delete(k, DeleteOption.DEFAULT), "delete " + key);
  }

  private long transact(String key, ByteSequence k, long expected, Op op, String what)
      throws ConflictException {
    if (expected == ANY) {
      TxnResponse r = await(client.getKVClient().txn().Then(op).commit(), what);
      return r.getHeader().getRevision();
    }
    TxnResponse r =
        await(
            client
                .getKVClient()
                .txn()
                .If(condition(k, expected))
                .Then(op)
                .Else(Op.get(k, GetOption.DEFAULT))
                .commit(),
            what);
    if (!r.isSucceeded()) {
      long actual =
          r.getGetResponses().stream()
              .flatMap(g -> g.getKvs().stream())
              .mapToLong(KeyValue::getModRevision)
              .findFirst()
              .orElse(0);
      throw new ConflictException(key, expected, actual);
    }
    return r.getHeader().getRevision();
  }

  /** The key absent ({@link #ABSENT}), or at the given mod revision. */
  private static Cmp condition(ByteSequence k, long expected) {
    return expected == ABSENT
        ? new Cmp(k, Cmp.Op.EQUAL, CmpTarget.createRevision(0))
        : new Cmp(k, Cmp.Op.EQUAL, CmpTarget.modRevision(expected));
  }

  @Override
  public AutoCloseable watch(
      String prefix,
      long afterRevision,
      Consumer<List<Event>> onEvents,
      Consumer<WatchBrokenException> onBroken) {
    WatchOption option =
        WatchOption.builder()
            .isPrefix(true)
            .withPrevKV(true)
            .withRevision(afterRevision + 1)
            .build();
    Watch.Watcher w =
        client
            .getWatchClient()
            .watch(
                bytes(root + prefix),
                option,
                Watch.listener(
                    response -> {
                      List<Event> batch = new ArrayList<>();
                      for (WatchEvent ev : response.getEvents()) {
                        batch.add(event(ev));
                      }
                      if (!batch.isEmpty()) {
                        onEvents.accept(List.copyOf(batch));
                      }
                    },
                    error ->
                        onBroken.accept(
                            new WatchBrokenException(
                                "watch of " + prefix + " ended: " + error.getMessage(),
                                error instanceof CompactedException,
                                error))));
    return w::close;
  }

  private Event event(WatchEvent ev) {
    KeyValue kv = ev.getKeyValue();
    if (ev.getEventType() == WatchEvent.EventType.DELETE) {
      KeyValue prev = ev.getPrevKV();
      Entry last =
          prev != null && prev.getKey().size() > 0
              ? entry(prev)
              : new Entry(keyOf(kv), NullNode.getInstance(), 0, kv.getModRevision());
      return new Event(Event.Type.DELETE, last, kv.getModRevision());
    }
    return new Event(Event.Type.PUT, entry(kv), kv.getModRevision());
  }

  /** Discards history below {@code revision}, as etcd's auto-compaction would. */
  public void compact(long revision) {
    await(client.getKVClient().compact(revision), "compact " + revision);
  }

  /** Asks every member for its status (each within a second): who answers, and whom it follows. */
  public List<MemberStatus> memberStatus() {
    List<MemberStatus> out = new ArrayList<>();
    for (int i = 0; i < endpoints.size(); i++) {
      var f = client.getMaintenanceClient().statusMember(targets.get(i));
      try {
        var r = f.get(1, TimeUnit.SECONDS);
        out.add(
            new MemberStatus(endpoints.get(i), true, r.getHeader().getMemberId(), r.getLeader()));
      } catch (ExecutionException | TimeoutException e) {
        f.cancel(true);
        out.add(new MemberStatus(endpoints.get(i), false, 0, 0));
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        out.add(new MemberStatus(endpoints.get(i), false, 0, 0));
      }
    }
    return out;
  }

  @Override
  public void close() {
    client.close();
    forwarders.forEach(NamespaceTcpForwarder::close);
  }
}
