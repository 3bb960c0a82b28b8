package dev.tweed.trace.bpf;

import dev.tweed.ebpf.Datapath;
import dev.tweed.ebpf.DatapathMaps;
import dev.tweed.ebpf.EbpfIntent;
import dev.tweed.ebpf.LbMaps;
import dev.tweed.kernel.Packet;
import dev.tweed.kernel.netfilter.NatTranslation;
import dev.tweed.model.Cidr;
import dev.tweed.model.IpAddress;
import dev.tweed.model.IpFamily;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * What each of Tweed's tc programs does with a packet, evaluated over a node's captured maps: the
 * semantics of {@code tweed-datapath.bpf.c}, decision by decision, in the same order, each lookup
 * recorded. Where the program draws a random backend the run forks, one run per slot.
 *
 * <p>The model covers TCP, UDP and ICMP echo in both families (each over its family's maps, as the
 * programs are compiled once per family), first packets of a connection (a TCP SYN) and later ones;
 * it does not model fragments or ICMP errors (the programs pass the first unchanged and translate
 * the second by the connection they quote). Neighbour discovery and MLD are the stack's: the
 * programs pass them before any lookup.
 */
public final class TweedPrograms {
  public static final Set<String> NAMES = Set.copyOf(Datapath.PROGRAMS);

  /** Set on a packet a program redirected, so the egress program of its new device lets it be. */
  private static final long MARK_FORWARDED = DatapathMaps.MARK_FORWARDED;

  static final int ID_HOST = 1;
  static final int ID_WORLD = 2;
  static final int ID_FIRST_CLUSTER = 256;
  private static final int TCP = 6;
  private static final int UDP = 17;
  private static final int ICMP = 1;
  private static final int ICMPV6 = 58;

  /** The maps the programs keep one of per family (tw_ct, tw_ct6): lookups name the packet's. */
  private static final Set<String> PER_FAMILY =
      Set.of(
          DatapathMaps.CONNTRACK,
          DatapathMaps.ENDPOINTS,
          DatapathMaps.IPCACHE,
          LbMaps.FRONTENDS,
          LbMaps.SERVICES,
          LbMaps.BACKENDS,
          LbMaps.AFFINITY,
          LbMaps.SOURCE_RANGES);

  /** The node's routing as {@code bpf_fib_lookup} sees it. */
  public interface Fib {
    FibAnswer lookup(Packet p, int ifindex);
  }

  /**
   * A FIB lookup's answer.
   *
   * @param kind FORWARD (BPF_FIB_LKUP_RET_SUCCESS), NOT_FORWARDED (for this host, or no route: the
   *     stack decides), or REFUSED (blackhole, unreachable, prohibit)
   */
  public record FibAnswer(Kind kind, int ifindex, String nexthop, String route) {
    public enum Kind {
      FORWARD,
      NOT_FORWARDED,
      REFUSED
    }
  }

  /**
   * A packet meeting a program.
   *
   * @param syn a TCP SYN without ACK: opens a connection, so conntrack lookups are skipped
   * @param locallyOriginated sent by a process of this namespace (skb->ingress_ifindex is 0)
   */
  public record Input(TcAttachment at, Packet packet, boolean syn, boolean locallyOriginated) {}

  private final BpfState maps;
  private final Fib fib;
  private final Map<String, DatapathMaps.Connection> journey;

  public TweedPrograms(BpfState maps, Fib fib) {
    this(maps, fib, List.of());
  }

  /**
   * @param journey the connections programs of this node recorded earlier in the journey: found
   *     before the captured ones
   */
  public TweedPrograms(BpfState maps, Fib fib, List<DatapathMaps.Connection> journey) {
    this.maps = maps;
    this.fib = fib;
    this.journey = new HashMap<>();
    for (DatapathMaps.Connection c : journey) {
      this.journey.put(
          BpfState.tupleKey(
              c.protocol(), c.source(), c.sourcePort(), c.destination(), c.destinationPort()),
          c);
    }
  }

  /** tw_ct's entry under {@code key}: this journey's, or the captured map's. */
  private DatapathMaps.Connection ct(String key) {
    DatapathMaps.Connection c = journey.get(key);
    return c != null ? c : maps.conntrack().get(key);
  }

  public List<ProgramRun> run(Input in) {
    Run r = new Run(in);
    return switch (in.at().program()) {
      case "from_container" -> fromContainer(r);
      case "to_container" -> toContainer(r);
      case "from_overlay" -> fromRemote(r, true);
      case "from_netdev" -> fromRemote(r, false);
      case "to_overlay" -> toRemote(r, true);
      case "to_netdev" -> toRemote(r, false);
      default ->
          throw new IllegalArgumentException("not one of Tweed's programs: " + in.at().program());
    };
  }

  // ---- the programs ---------------------------------------------------------------------------

  private List<ProgramRun> fromContainer(Run r) {
    Optional<DatapathMaps.EndpointValue> src = endpoint(r, r.p.srcIp());
    if (src.isEmpty() || src.get().ifindex() != r.in.at().ifindex()) {
      return List.of(
          r.drop(
              "spoofed-source",
              src.isEmpty()
                  ? r.p.srcIp() + " is no endpoint of this node"
                  : r.p.srcIp() + " belongs to ifindex " + src.get().ifindex() + ", not this one"));
    }
    int srcIdentity = src.get().identity();
    if (lbReply(r)) {
      return deliver(r, srcIdentity);
    }
    List<ProgramRun> out = new ArrayList<>();
    for (Run b : lbRequest(r)) {
      if (b.lb != Lb.NONE && b.lb != Lb.OK) {
        out.add(refuse(b));
        continue;
      }
      out.addAll(fromContainerAfterLb(b, src.get(), srcIdentity));
    }
    return out;
  }

  private List<ProgramRun> fromContainerAfterLb(
      Run r, DatapathMaps.EndpointValue src, int srcIdentity) {
    Optional<DatapathMaps.EndpointValue> dstEp = endpoint(r, r.p.dstIp());
    Optional<EbpfIntent.IpcacheEntry> dst = ipcache(r, r.p.dstIp());
    Optional<DatapathMaps.Connection> ct = ctLookup(r);
    if (ct.isPresent()) {
      if (ct.get().throughStack()) {
        return List.of(r.pass("a connection the stack carries", false));
      }
    } else {
      int dstIdentity = dst.map(EbpfIntent.IpcacheEntry::identity).orElse(ID_WORLD);
      if (!policyAllows(r, src, EbpfIntent.Direction.EGRESS, dstIdentity)) {
        return List.of(r.drop("policy-denied", "egress policy of " + src.ip() + " denies it"));
      }
      if (dstEp.isPresent()
          && !policyAllows(r, dstEp.get(), EbpfIntent.Direction.INGRESS, src.identity())) {
        return List.of(
            r.drop("policy-denied", "ingress policy of " + dstEp.get().ip() + " denies it"));
      }
      boolean direct =
          dstEp.isPresent()
              || dst.map(d -> !d.tunnelEndpoint().isEmpty()).orElse(false)
              || r.translated;
      ctCreate(r, !direct);
      if (!direct) {
        return List.of(r.pass("to the node or beyond the pod network: the stack routes it", false));
      }
    }
    if (dstEp.isPresent()) {
      return List.of(deliverLocal(r, dstEp.get()));
    }
    if (dst.isPresent() && !dst.get().tunnelEndpoint().isEmpty()) {
      return List.of(deliverRemote(r, dst.get(), srcIdentity));
    }
    return List.of(r.pass("the node, the world or a backend outside the pod network", false));
  }

  private List<ProgramRun> toContainer(Run r) {
    if (forwardedMark(r)) {
      return List.of(r.pass("a Tweed program already decided this packet", false));
    }
    if (lbReply(r)) {
      return List.of(r.pass("a Service's reply, its frontend restored", false));
    }
    Optional<DatapathMaps.EndpointValue> dst = endpoint(r, r.p.dstIp());
    if (dst.isEmpty()) {
      return List.of(r.pass("not to an endpoint of this node", false));
    }
    if (ctLookup(r).isPresent()) {
      return List.of(r.pass("a tracked connection", false));
    }
    int srcIdentity = identityOf(r, r.p.srcIp());
    Optional<DatapathMaps.EndpointValue> src = endpoint(r, r.p.srcIp());
    if (src.isPresent()
        && !policyAllows(r, src.get(), EbpfIntent.Direction.EGRESS, dst.get().identity())) {
      return List.of(r.drop("policy-denied", "egress policy of " + src.get().ip() + " denies it"));
    }
    if (!policyAllows(r, dst.get(), EbpfIntent.Direction.INGRESS, srcIdentity)) {
      return List.of(r.drop("policy-denied", "ingress policy of " + dst.get().ip() + " denies it"));
    }
    ctCreate(r, true);
    return List.of(r.pass("allowed into the pod", false));
  }

  private List<ProgramRun> fromRemote(Run r, boolean overlay) {
    int srcIdentity = identityOf(r, r.p.srcIp());
    if (lbReply(r)) {
      return deliver(r, ID_HOST);
    }
    List<ProgramRun> out = new ArrayList<>();
    for (Run b : lbRequest(r)) {
      if (b.lb != Lb.NONE && b.lb != Lb.OK) {
        out.add(refuse(b));
      } else {
        out.addAll(fromRemoteAfterLb(b, overlay, srcIdentity));
      }
    }
    return out;
  }

  private List<ProgramRun> fromRemoteAfterLb(Run r, boolean overlay, int srcIdentity) {
    Optional<DatapathMaps.EndpointValue> dst = endpoint(r, r.p.dstIp());
    Optional<DatapathMaps.Connection> ct = ctLookup(r);
    if (r.translated) {
      if (ct.isEmpty()) {
        if (dst.isPresent()
            && !policyAllows(r, dst.get(), EbpfIntent.Direction.INGRESS, srcIdentity)) {
          return List.of(
              r.drop("policy-denied", "ingress policy of " + dst.get().ip() + " denies it"));
        }
        ctCreate(r, false);
      }
      return deliver(r, ID_HOST);
    }
    if (dst.isEmpty() || ct.map(DatapathMaps.Connection::throughStack).orElse(false)) {
      return List.of(
          r.pass(
              dst.isEmpty() ? "for the node itself" : "a connection the stack carries", overlay));
    }
    if (ct.isEmpty()) {
      if (srcIdentity < ID_FIRST_CLUSTER) {
        return List.of(
            r.pass(
                "from a node or the world: the stack routes it, to_container applies the policy",
                overlay));
      }
      if (!policyAllows(r, dst.get(), EbpfIntent.Direction.INGRESS, srcIdentity)) {
        return List.of(
            r.drop("policy-denied", "ingress policy of " + dst.get().ip() + " denies it"));
      }
      ctCreate(r, false);
    }
    return List.of(deliverLocal(r, dst.get()));
  }

  private List<ProgramRun> toRemote(Run r, boolean overlay) {
    if (forwardedMark(r)) {
      return List.of(r.pass("a Tweed program already decided this packet", false));
    }
    List<ProgramRun> out = new ArrayList<>();
    List<Run> runs = List.of(r);
    if (!overlay) {
      runs = lbRequest(r);
    }
    for (Run b : runs) {
      if (b.lb != Lb.NONE && b.lb != Lb.OK) {
        out.add(refuse(b));
        continue;
      }
      if (b.translated) {
        if (ctLookup(b).isEmpty()) {
          ctCreate(b, false);
        }
        out.addAll(deliver(b, ID_HOST));
        continue;
      }
      out.add(toRemoteAfterLb(b, overlay));
    }
    return out;
  }

  private ProgramRun toRemoteAfterLb(Run r, boolean overlay) {
    Optional<EbpfIntent.IpcacheEntry> dst = ipcache(r, r.p.dstIp());
    Optional<DatapathMaps.EndpointValue> src = endpoint(r, r.p.srcIp());
    if (src.isPresent() && ctLookup(r).isEmpty()) {
      int dstIdentity = dst.map(EbpfIntent.IpcacheEntry::identity).orElse(ID_WORLD);
      if (!policyAllows(r, src.get(), EbpfIntent.Direction.EGRESS, dstIdentity)) {
        return r.drop("policy-denied", "egress policy of " + src.get().ip() + " denies it");
      }
      ctCreate(r, true);
    }
    if (!overlay) {
      return r.pass("out to the network", false);
    }
    if (dst.isEmpty() || dst.get().tunnelEndpoint().isEmpty()) {
      return r.drop("no-route", "no tunnel endpoint for " + r.p.dstIp());
    }
    int vni = src.map(DatapathMaps.EndpointValue::identity).orElse(ID_HOST);
    return r.end(
        new TcAction.Pass(
            "encapsulated by the VXLAN device",
            false,
            Optional.of(new TcAction.TunnelKey(dst.get().tunnelEndpoint(), vni))));
  }

  // ---- delivery -------------------------------------------------------------------------------

  private List<ProgramRun> deliver(Run r, int srcIdentity) {
    Optional<DatapathMaps.EndpointValue> ep = endpoint(r, r.p.dstIp());
    if (ep.isPresent()) {
      return List.of(deliverLocal(r, ep.get()));
    }
    Optional<EbpfIntent.IpcacheEntry> dst = ipcache(r, r.p.dstIp());
    if (dst.isPresent() && !dst.get().tunnelEndpoint().isEmpty()) {
      return List.of(deliverRemote(r, dst.get(), srcIdentity));
    }
    return List.of(deliverRouted(r));
  }

  private ProgramRun deliverLocal(Run r, DatapathMaps.EndpointValue ep) {
    if (r.in.locallyOriginated() && r.in.at().direction().equals("egress")) {
      r.mark |= MARK_FORWARDED;
      return r.end(new TcAction.Redirect(ep.ifindex(), Optional.empty()));
    }
    return r.end(new TcAction.RedirectPeer(ep.ifindex()));
  }

  private ProgramRun deliverRemote(Run r, EbpfIntent.IpcacheEntry dst, int srcIdentity) {
    Optional<BpfState.Config> cfg = config(r);
    if (cfg.isEmpty()) {
      return r.drop("no-route", "tw_config is empty");
    }
    if (cfg.get().bgp()) {
      FibAnswer f = fibLookup(r);
      if (f.kind() != FibAnswer.Kind.FORWARD) {
        return r.pass("the FIB does not forward it: the stack decides", false);
      }
      r.mark |= MARK_FORWARDED;
      return r.end(new TcAction.RedirectNeigh(f.ifindex(), f.nexthop(), f.route()));
    }
    r.mark |= MARK_FORWARDED;
    return r.end(
        new TcAction.Redirect(
            cfg.get().vxlanIfindex(),
            Optional.of(new TcAction.TunnelKey(dst.tunnelEndpoint(), srcIdentity))));
  }

  private ProgramRun deliverRouted(Run r) {
    FibAnswer f = fibLookup(r);
    return switch (f.kind()) {
      case NOT_FORWARDED -> r.pass("for this node: its stack delivers it", false);
      case REFUSED -> r.drop("no-route", "the FIB refuses " + r.p.dstIp() + ": " + f.route());
      case FORWARD -> {
        r.mark |= MARK_FORWARDED;
        yield r.end(new TcAction.RedirectNeigh(f.ifindex(), f.nexthop(), f.route()));
      }
    };
  }

  private FibAnswer fibLookup(Run r) {
    FibAnswer f = fib.lookup(r.p, r.in.at().ifindex());
    r.look(
        "fib",
        r.p.srcIp() + " > " + r.p.dstIp(),
        switch (f.kind()) {
          case FORWARD -> "ifindex " + f.ifindex() + " via " + f.nexthop() + " (" + f.route() + ")";
          case NOT_FORWARDED -> "not forwarded (" + f.route() + ")";
          case REFUSED -> "refused (" + f.route() + ")";
        });
    return f;
  }

  // ---- Services -------------------------------------------------------------------------------

  private enum Lb {
    NONE,
    OK,
    REJECT,
    DROP,
    RANGE
  }

  /** A reply of a translated connection gets its frontend back: true if it was one. */
  private boolean lbReply(Run r) {
    if (r.proto() != TCP && r.proto() != UDP) {
      return false;
    }
    String key = BpfState.tupleKey(r.proto(), r.p.dstIp(), r.p.dport(), r.p.srcIp(), r.p.sport());
    DatapathMaps.Connection e = ct(key);
    boolean revnat = e != null && e.translation().kind().equals("reply");
    r.look(
        "tw_ct",
        key + " (reverse)",
        e == null ? "none" : revnat ? "reply of a Service connection" : "no translation");
    if (!revnat) {
      return false;
    }
    DatapathMaps.Translation t = e.translation();
    Packet before = r.p;
    r.p =
        r.p
            .withSrc(IpAddress.parse(t.address()), Optional.of(t.port()))
            .withDst(IpAddress.parse(t.other()), Optional.of(t.otherPort()));
    r.nat.add(
        new NatTranslation(
            "reverse",
            before.srcEndpoint() + " > " + before.dstEndpoint(),
            r.p.srcEndpoint() + " > " + r.p.dstEndpoint(),
            "bpf " + r.in.at().program()));
    return true;
  }

  private List<Run> lbRequest(Run r) {
    if (r.proto() != TCP && r.proto() != UDP) {
      return List.of(r.lb(toServiceNet(r) ? Lb.DROP : Lb.NONE));
    }
    String fk = BpfState.frontendKey(r.p.dstIp(), r.p.dport(), r.proto());
    LbMaps.FrontendEntry fe = maps.frontends().get(fk);
    r.look(
        "tw_lb_frontends",
        fk,
        fe == null
            ? "none"
            : "service "
                + fe.service()
                + (fe.external() ? " (external scope)" : "")
                + (fe.masquerade() ? ", masquerade" : "")
                + (fe.ranges() ? ", source ranges" : ""));
    if (fe == null) {
      return List.of(r.lb(toServiceNet(r) ? Lb.DROP : Lb.NONE));
    }
    if (fe.ranges()) {
      boolean allowed =
          maps.sourceRanges().stream()
              .anyMatch(
                  s -> s.service() == fe.service() && Cidr.parse(s.cidr()).contains(r.p.src()));
      r.look(
          "tw_lb_source_ranges",
          "service " + fe.service() + " " + r.p.srcIp(),
          allowed ? "in range" : "none");
      if (!allowed) {
        return List.of(r.lb(Lb.RANGE));
      }
    }
    String tuple = BpfState.tupleKey(r.proto(), r.p.srcIp(), r.p.sport(), r.p.dstIp(), r.p.dport());
    DatapathMaps.Connection known = ct(tuple);
    if (known != null && known.translation().kind().equals("service")) {
      // The connection's earlier packets chose a backend: it keeps it while it still serves.
      DatapathMaps.Translation t = known.translation();
      LbMaps.BackendEntry b =
          maps.backends().entrySet().stream()
              .filter(x -> x.getKey().startsWith(r.p.family().number() + ":"))
              .map(Map.Entry::getValue)
              .filter(x -> x.ip().equals(t.address()) && x.port() == t.port())
              .filter(x -> x.service() == fe.service())
              .findFirst()
              .orElse(null);
      r.look("tw_ct", tuple, "Service connection " + t);
      if (b != null) {
        translate(r, t.address(), t.port(), t.other(), t.otherPort());
        return List.of(r.lb(Lb.OK));
      }
    } else {
      r.look("tw_ct", tuple, known == null ? "none" : "not a Service connection");
    }
    return pick(r, fe);
  }

  private List<Run> pick(Run r, LbMaps.FrontendEntry fe) {
    IpFamily family = r.p.family();
    String headKey = BpfState.serviceKey(family, fe.service(), fe.external(), 0);
    LbMaps.ServiceEntry head = maps.services().get(headKey);
    r.look(
        "tw_lb_services",
        headKey,
        head == null
            ? "none"
            : head.countOrBackend()
                + " backends"
                + (head.affinitySeconds() > 0 ? ", affinity " + head.affinitySeconds() + " s" : "")
                + (head.dropWhenEmpty() ? ", drop when empty" : ""));
    if (head == null) {
      return List.of(r.lb(Lb.DROP));
    }
    int n = head.countOrBackend();
    if (n == 0) {
      return List.of(r.lb(head.dropWhenEmpty() ? Lb.DROP : Lb.REJECT));
    }
    long timeout = head.affinitySeconds() * 1_000_000_000L;
    if (timeout > 0) {
      Optional<LbMaps.AffinityEntry> a =
          maps.affinity().stream()
              .filter(x -> x.client().equals(r.p.srcIp()) && x.service() == fe.service())
              .findFirst();
      boolean fresh = a.isPresent() && maps.monotonicNanos() - a.get().lastUsedNanos() <= timeout;
      LbMaps.BackendEntry b =
          a.map(x -> maps.backends().get(BpfState.backendKey(family, x.backend()))).orElse(null);
      r.look(
          "tw_lb_affinity",
          r.p.srcIp() + " service " + fe.service(),
          a.isEmpty() ? "none" : fresh ? "backend " + a.get().backend() : "expired");
      if (fresh && b != null && b.service() == fe.service()) {
        return List.of(masqueradeAndTranslate(r, fe, b));
      }
    }
    List<Run> out = new ArrayList<>();
    for (int slot = 1; slot <= n; slot++) {
      Run b = n == 1 ? r : r.copy();
      String slotKey = BpfState.serviceKey(family, fe.service(), fe.external(), slot);
      LbMaps.ServiceEntry s = maps.services().get(slotKey);
      b.look("tw_lb_services", slotKey, s == null ? "none" : "backend " + s.countOrBackend());
      if (n > 1) {
        b.probability /= n;
        b.choice =
            Optional.of("slot " + slot + " of " + n + " (bpf_get_prandom_u32() % " + n + ")");
      }
      LbMaps.BackendEntry be =
          s == null ? null : maps.backends().get(BpfState.backendKey(family, s.countOrBackend()));
      if (s != null) {
        b.look(
            "tw_lb_backends",
            String.valueOf(s.countOrBackend()),
            be == null ? "none" : be.ip() + ":" + be.port());
      }
      out.add(be == null ? b.lb(Lb.DROP) : masqueradeAndTranslate(b, fe, be));
    }
    return out;
  }

  private Run masqueradeAndTranslate(Run r, LbMaps.FrontendEntry fe, LbMaps.BackendEntry b) {
    String snat = r.p.srcIp();
    int sport = r.p.sport();
    Optional<BpfState.Config> cfg = maps.config();
    String nodeIp = cfg.map(c -> c.nodeIp(r.p.family())).orElse("");
    if (!nodeIp.isEmpty() && (fe.masquerade() || b.ip().equals(r.p.srcIp()))) {
      snat = nodeIp;
      Optional<Integer> port = snatPort(r, snat, b.ip(), b.port());
      if (port.isEmpty()) {
        return r.lb(Lb.DROP);
      }
      sport = port.get();
    }
    translate(r, b.ip(), b.port(), snat, sport);
    return r.lb(Lb.OK);
  }

  /** snat_port: the client's own port if free towards this backend, else one derived from it. */
  private Optional<Integer> snatPort(Run r, String snat, String baddr, int bport) {
    int port = r.p.sport();
    for (int i = 0; i < 8; i++) {
      String k = BpfState.tupleKey(r.proto(), snat, port, baddr, bport);
      DatapathMaps.Connection e = ct(k);
      if (e == null
          || (e.translation().other().equals(r.p.srcIp())
              && e.translation().otherPort() == r.p.sport())) {
        return Optional.of(port);
      }
      port = 32768 + ((port * 7919 + i * 104729) & 0x7fff);
    }
    return Optional.empty();
  }

  private static DatapathMaps.Connection connection(
      Packet p, boolean throughStack, DatapathMaps.Translation t) {
    int proto =
        switch (p.proto()) {
          case "tcp" -> TCP;
          case "udp" -> UDP;
          case "icmp" -> ICMP;
          case "icmpv6" -> ICMPV6;
          default -> 0;
        };
    return new DatapathMaps.Connection(
        p.srcIp(), p.sport(), p.dstIp(), p.dport(), proto, 0, 0, throughStack, false, t);
  }

  private void translate(Run r, String baddr, int bport, String snat, int sport) {
    Packet before = r.p;
    r.translated = true;
    r.frontend = before;
    // lb_request's entry: the connection's later packets keep their backend.
    r.created.add(
        connection(
            before, false, new DatapathMaps.Translation("service", baddr, bport, snat, sport)));
    r.p = r.p.withDst(IpAddress.parse(baddr), Optional.of(bport));
    r.nat.add(
        new NatTranslation(
            "DNAT", before.dstEndpoint(), r.p.dstEndpoint(), "bpf " + r.in.at().program()));
    if (!snat.equals(before.srcIp()) || sport != before.sport()) {
      Packet b2 = r.p;
      r.p = r.p.withSrc(IpAddress.parse(snat), Optional.of(sport));
      r.nat.add(
          new NatTranslation(
              "SNAT", b2.srcEndpoint(), r.p.srcEndpoint(), "bpf " + r.in.at().program()));
    }
  }

  private ProgramRun refuse(Run r) {
    return switch (r.lb) {
      case REJECT -> r.end(new TcAction.Reject("no backend anywhere for " + r.p.dstEndpoint()));
      case RANGE ->
          r.drop("source-range-denied", r.p.srcIp() + " is outside the load balancer's ranges");
      default ->
          r.drop(
              "no-service",
              "a Service address without that port, or no backend in the frontend's scope");
    };
  }

  private boolean toServiceNet(Run r) {
    return maps.config().map(c -> c.inServiceNet(r.p.dst())).orElse(false);
  }

  // ---- lookups --------------------------------------------------------------------------------

  private Optional<DatapathMaps.EndpointValue> endpoint(Run r, String ip) {
    Optional<DatapathMaps.EndpointValue> e = Optional.ofNullable(maps.endpoints().get(ip));
    r.look(
        "tw_endpoints",
        ip,
        e.map(
                v ->
                    "endpoint "
                        + v.id()
                        + ", identity "
                        + v.identity()
                        + ", ifindex "
                        + v.ifindex()
                        + (v.ingressIsolated() ? ", ingress isolated" : "")
                        + (v.egressIsolated() ? ", egress isolated" : ""))
            .orElse("none"));
    return e;
  }

  /** The longest prefix of tw_ipcache holding {@code ip}. */
  private Optional<EbpfIntent.IpcacheEntry> ipcache(Run r, String ip) {
    IpAddress addr = IpAddress.parse(ip);
    Optional<EbpfIntent.IpcacheEntry> e =
        maps.ipcache().stream()
            .filter(x -> Cidr.parse(x.cidr()).contains(addr))
            .max(Comparator.comparingInt(x -> Cidr.parse(x.cidr()).prefixLength()));
    r.look(
        "tw_ipcache",
        ip,
        e.map(
                x ->
                    x.cidr()
                        + ": identity "
                        + x.identity()
                        + (x.tunnelEndpoint().isEmpty()
                            ? ""
                            : ", tunnel endpoint " + x.tunnelEndpoint()))
            .orElse("none"));
    return e;
  }

  private int identityOf(Run r, String ip) {
    return ipcache(r, ip).map(EbpfIntent.IpcacheEntry::identity).orElse(ID_WORLD);
  }

  private Optional<BpfState.Config> config(Run r) {
    return maps.config();
  }

  private Optional<DatapathMaps.Connection> ctLookup(Run r) {
    String fwd = BpfState.tupleKey(r.proto(), r.p.srcIp(), r.p.sport(), r.p.dstIp(), r.p.dport());
    if (r.in.syn()) {
      r.look("tw_ct", fwd, "skipped: a SYN opens a new connection");
      return Optional.empty();
    }
    DatapathMaps.Connection e = ct(fwd);
    if (e == null) {
      e = ct(BpfState.tupleKey(r.proto(), r.p.dstIp(), r.p.dport(), r.p.srcIp(), r.p.sport()));
    }
    DatapathMaps.Connection found = e;
    r.look(
        "tw_ct",
        fwd,
        found == null
            ? "none"
            : "tracked" + (found.throughStack() ? ", carried by the stack" : ""));
    return Optional.ofNullable(found);
  }

  private void ctCreate(Run r, boolean throughStack) {
    DatapathMaps.Translation t =
        r.translated
            ? new DatapathMaps.Translation(
                "reply",
                r.frontend.dstIp(),
                r.frontend.dport(),
                r.frontend.srcIp(),
                r.frontend.sport())
            : DatapathMaps.Translation.NONE;
    r.created.add(connection(r.p, throughStack, t));
    r.look(
        "tw_ct",
        BpfState.tupleKey(r.proto(), r.p.srcIp(), r.p.sport(), r.p.dstIp(), r.p.dport()),
        "new entry"
            + (throughStack ? ", carried by the stack" : "")
            + (r.translated ? ", replies get the frontend back" : ""));
  }

  /**
   * policy_allows: not isolated in that direction, the host, or an entry for (identity or any) ×
   * (protocol and port, or any).
   */
  private boolean policyAllows(
      Run r, DatapathMaps.EndpointValue ep, EbpfIntent.Direction dir, int identity) {
    boolean isolated =
        dir == EbpfIntent.Direction.INGRESS ? ep.ingressIsolated() : ep.egressIsolated();
    String who = "endpoint " + ep.id() + " " + dir.name().toLowerCase() + " ";
    if (!isolated || identity == ID_HOST) {
      r.look(
          "tw_policy",
          who + "identity " + identity,
          !isolated ? "not consulted: not isolated" : "not consulted: the node is always allowed");
      return true;
    }
    int proto = r.proto();
    int port = r.p.dport();
    if (proto != TCP && proto != UDP) {
      port = 0;
    }
    int[][] keys = {{identity, proto, port}, {0, proto, port}, {identity, 0, 0}, {0, 0, 0}};
    for (int[] k : keys) {
      Optional<EbpfIntent.PolicyEntry> hit = policyEntry(ep.id(), dir, k[0], k[1], k[2]);
      String key =
          who
              + (k[0] == 0 ? "any peer" : "identity " + k[0])
              + " "
              + (k[1] == 0 ? "any protocol" : r.p.proto() + "/" + k[2]);
      r.look(
          "tw_policy",
          key,
          hit.map(e -> "allow (entry for ports " + e.ports() + ")").orElse("none"));
      if (hit.isPresent()) {
        return true;
      }
    }
    return false;
  }

  private Optional<EbpfIntent.PolicyEntry> policyEntry(
      int ep, EbpfIntent.Direction dir, int identity, int proto, int port) {
    return maps.policy().stream()
        .filter(
            e ->
                e.endpoint() == ep
                    && e.direction() == dir
                    && e.identity() == identity
                    && e.protocol() == proto)
        .filter(
            e ->
                e.portPrefixLength() == 0
                    || (port >>> (16 - e.portPrefixLength()))
                        == (e.port() >>> (16 - e.portPrefixLength())))
        .findFirst();
  }

  private static boolean forwardedMark(Run r) {
    boolean marked = (r.mark & MARK_FORWARDED) == MARK_FORWARDED;
    r.look("skb->mark", String.format("0x%08x", r.mark), marked ? "MARK_FORWARDED" : "not marked");
    if (marked) {
      r.mark &= ~MARK_FORWARDED;
    }
    return marked;
  }

  /** One program's evaluation in progress; copied where a random choice forks it. */
  private static final class Run {
    final Input in;
    Packet p;
    long mark;
    List<MapLookup> lookups = new ArrayList<>();
    List<NatTranslation> nat = new ArrayList<>();
    double probability = 1.0;
    Optional<String> choice = Optional.empty();
    boolean translated;
    Packet frontend;
    List<DatapathMaps.Connection> created = new ArrayList<>();
    Lb lb = Lb.NONE;

    Run(Input in) {
      this.in = in;
      this.p = in.packet();
      this.mark = in.packet().mark();
    }

    Run copy() {
      Run c = new Run(in);
      c.p = p;
      c.mark = mark;
      c.lookups = new ArrayList<>(lookups);
      c.nat = new ArrayList<>(nat);
      c.probability = probability;
      c.choice = choice;
      c.translated = translated;
      c.frontend = frontend;
      c.created = new ArrayList<>(created);
      c.lb = lb;
      return c;
    }

    int proto() {
      return switch (p.proto()) {
        case "tcp" -> TCP;
        case "udp" -> UDP;
        case "icmp" -> ICMP;
        case "icmpv6" -> ICMPV6;
        default -> 0;
      };
    }

    void look(String map, String key, String result) {
      String named = PER_FAMILY.contains(map) ? DatapathMaps.of(map, p.family()) : map;
      lookups.add(new MapLookup(named, key, result));
    }

    Run lb(Lb v) {
      lb = v;
      return this;
    }

    ProgramRun end(TcAction action) {
      TcAttachment at = in.at();
      return new ProgramRun(
          at.program(),
          at.device(),
          "tc " + at.direction(),
          in.packet(),
          lookups,
          p.withMark(mark),
          action,
          probability,
          choice,
          nat,
          mark,
          created);
    }

    ProgramRun pass(String why, boolean hostType) {
      return end(new TcAction.Pass(why, hostType, Optional.empty()));
    }

    ProgramRun drop(String reason, String why) {
      return end(new TcAction.Drop(reason, why));
    }
  }
}
