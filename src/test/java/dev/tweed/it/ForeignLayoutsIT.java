package dev.tweed.it;

import static dev.tweed.it.ScratchNetwork.exec;
import static dev.tweed.it.ScratchNetwork.ip;
import static dev.tweed.it.ScratchNetwork.sysctl;
import static dev.tweed.it.ScratchNetwork.veth;
import static org.assertj.core.api.Assertions.assertThat;

import dev.tweed.kernel.Packet;
import dev.tweed.lab.LabTraceVerifier;
import dev.tweed.lab.ProbeServer;
import dev.tweed.sys.NetworkNamespace;
import dev.tweed.trace.Outcome;
import dev.tweed.trace.TraceWorld;
import dev.tweed.trace.Tracer;
import dev.tweed.trace.verify.JourneyCheck;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Hosts programmed by others, rebuilt in scratch namespaces with the same devices and the rules
 * those tools write (loaded with iptables-restore, read back with the real tools): a Docker host
 * (in IPv4 and in IPv6), two Flannel nodes and a Calico node. Each flow is traced by the model and
 * sent for real; the model's verdict must be the expected one and its rule path the kernel's.
 */
class ForeignLayoutsIT {

  record Flow(String from, String src, String dst, String proto, int port, String expected) {}

  /**
   * The check every flow gets: the model's verdict is {@code expected}, and nftables tracing shows
   * the kernel took the same rules and gave the same verdict.
   */
  private static void check(ScratchNetwork net, List<Flow> flows, List<ProbeServer> servers)
      throws Exception {
    TraceWorld world = net.capture();
    List<String> problems = new ArrayList<>();
    try (LabTraceVerifier v = LabTraceVerifier.start(net.namespaces(), Duration.ofMillis(700))) {
      int i = 0;
      for (Flow f : flows) {
        Packet p = Packet.of(f.src(), f.dst(), f.proto(), 41000 + i++, f.port());
        Tracer tracer = new Tracer(world);
        List<Outcome> outcomes = tracer.fromLocalProcess(net.ns(f.from()), p);
        JourneyCheck.Result r = v.check(world, net.ns(f.from()), p, outcomes, tracer::reply);
        if (!r.modelVerdict().equals(f.expected())) {
          problems.add(
              f + ": the model says " + r.modelVerdict() + " (" + outcomes.get(0).reason() + ")");
        }
        if (!r.agree()) {
          problems.add(f + ": " + String.join("; ", r.differences()));
        }
      }
    } finally {
      servers.forEach(ProbeServer::close);
    }
    assertThat(problems).isEmpty();
  }

  private static ProbeServer serve(ScratchNetwork net, String name, int tcpPort) throws Exception {
    return new ProbeServer(
        NetworkNamespace.pathOf(net.ns(name)),
        name,
        List.of(new ProbeServer.Port(tcpPort, "TCP"), new ProbeServer.Port(53, "UDP")));
  }

  /**
   * Docker with two networks: the default bridge docker0 with inter-container traffic off ({@code
   * --icc=false}), a user network br-net, a port published from c1, and br_netfilter on, as on a
   * Docker host. The rules are those dockerd 20-25 writes for this setup.
   */
  @Test
  void aDockerHost() throws Exception {
    try (ScratchNetwork net = new ScratchNetwork("dk")) {
      String host = net.add("host");
      String ext = net.add("ext");
      String c1 = net.add("c1");
      String c2 = net.add("c2");
      String c3 = net.add("c3");
      ip(host, "link", "add", "docker0", "type", "bridge");
      ip(host, "addr", "add", "172.17.0.1/16", "dev", "docker0");
      ip(host, "link", "set", "docker0", "up");
      ip(host, "link", "add", "br-net", "type", "bridge");
      ip(host, "addr", "add", "172.18.0.1/16", "dev", "br-net");
      ip(host, "link", "set", "br-net", "up");
      int n = 0;
      for (String[] c :
          List.of(
              new String[] {c1, "172.17.0.2/16", "docker0", "172.17.0.1"},
              new String[] {c2, "172.17.0.3/16", "docker0", "172.17.0.1"},
              new String[] {c3, "172.18.0.2/16", "br-net", "172.18.0.1"})) {
        String hostSide = "veth" + n++;
        veth(host, hostSide, c[0], "eth0");
        ip(host, "link", "set", hostSide, "master", c[2]);
        ip(c[0], "addr", "add", c[1], "dev", "eth0");
        ip(c[0], "route", "add", "default", "via", c[3]);
      }
      veth(host, "eth0", ext, "eth0");
      ip(host, "addr", "add", "172.30.9.1/24", "dev", "eth0");
      ip(ext, "addr", "add", "172.30.9.2/24", "dev", "eth0");
      sysctl(host, "net.ipv4.ip_forward=1");
      exec(host, DOCKER_RULES, "iptables-restore");
      List<ProbeServer> servers =
          List.of(
              serve(net, "c1", 80),
              serve(net, "c2", 80),
              serve(net, "c3", 80),
              serve(net, "ext", 80));
      check(
          net,
          List.of(
              // a published port: DNAT in DOCKER, accepted by the DOCKER filter chain
              new Flow("ext", "172.30.9.2", "172.30.9.1", "tcp", 8080, "delivered"),
              // not published
              new Flow("ext", "172.30.9.2", "172.30.9.1", "tcp", 9090, "rejected"),
              // containers reach the outside, masqueraded
              new Flow("c1", "172.17.0.2", "172.30.9.2", "tcp", 80, "delivered"),
              new Flow("c3", "172.18.0.2", "172.30.9.2", "udp", 53, "delivered"),
              // icc=false: bridged from port to port, FORWARD drops (br_netfilter)
              new Flow("c1", "172.17.0.2", "172.17.0.3", "tcp", 80, "dropped"),
              // another network: DOCKER-ISOLATION drops
              new Flow("c3", "172.18.0.2", "172.17.0.2", "tcp", 80, "dropped"),
              // the host itself: nothing listens
              new Flow("c1", "172.17.0.2", "172.17.0.1", "tcp", 22, "rejected"),
              // DOCKER-USER is consulted first
              new Flow("c2", "172.17.0.3", "172.30.9.2", "tcp", 80, "dropped")),
          servers);
    }
  }

  static final String DOCKER_RULES =
      """
      *nat
      :PREROUTING ACCEPT [0:0]
      :INPUT ACCEPT [0:0]
      :OUTPUT ACCEPT [0:0]
      :POSTROUTING ACCEPT [0:0]
      :DOCKER - [0:0]
      -A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER
      -A OUTPUT ! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -j DOCKER
      -A POSTROUTING -s 172.18.0.0/16 ! -o br-net -j MASQUERADE
      -A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE
      -A POSTROUTING -s 172.17.0.2/32 -d 172.17.0.2/32 -p tcp -m tcp --dport 80 -j MASQUERADE
      -A DOCKER -i br-net -j RETURN
      -A DOCKER -i docker0 -j RETURN
      -A DOCKER ! -i docker0 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 172.17.0.2:80
      COMMIT
      *filter
      :INPUT ACCEPT [0:0]
      :FORWARD DROP [0:0]
      :OUTPUT ACCEPT [0:0]
      :DOCKER - [0:0]
      :DOCKER-ISOLATION-STAGE-1 - [0:0]
      :DOCKER-ISOLATION-STAGE-2 - [0:0]
      :DOCKER-USER - [0:0]
      -A FORWARD -j DOCKER-USER
      -A FORWARD -j DOCKER-ISOLATION-STAGE-1
      -A FORWARD -o br-net -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
      -A FORWARD -o br-net -j DOCKER
      -A FORWARD -i br-net ! -o br-net -j ACCEPT
      -A FORWARD -i br-net -o br-net -j ACCEPT
      -A FORWARD -o docker0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
      -A FORWARD -o docker0 -j DOCKER
      -A FORWARD -i docker0 ! -o docker0 -j ACCEPT
      -A FORWARD -i docker0 -o docker0 -j DROP
      -A DOCKER -d 172.17.0.2/32 ! -i docker0 -o docker0 -p tcp -m tcp --dport 80 -j ACCEPT
      -A DOCKER-ISOLATION-STAGE-1 -i br-net ! -o br-net -j DOCKER-ISOLATION-STAGE-2
      -A DOCKER-ISOLATION-STAGE-1 -i docker0 ! -o docker0 -j DOCKER-ISOLATION-STAGE-2
      -A DOCKER-ISOLATION-STAGE-1 -j RETURN
      -A DOCKER-ISOLATION-STAGE-2 -o docker0 -j DROP
      -A DOCKER-ISOLATION-STAGE-2 -o br-net -j DROP
      -A DOCKER-ISOLATION-STAGE-2 -j RETURN
      -A DOCKER-USER -s 172.17.0.3/32 ! -d 172.17.0.0/16 -j DROP
      -A DOCKER-USER -j RETURN
      COMMIT
      """;

  /**
   * The same Docker host in IPv6 ({@code --ipv6 --fixed-cidr-v6 fd00:dead::/64 --ip6tables}): the
   * rules dockerd writes with ip6tables for the default bridge, a port published from c1, the
   * bridge's global address as the containers' gateway, and the host's own address on the outside.
   */
  @Test
  void anIpv6DockerHost() throws Exception {
    try (ScratchNetwork net = new ScratchNetwork("dk6")) {
      String host = net.add("host");
      String ext = net.add("ext");
      String c1 = net.add("c1");
      String c2 = net.add("c2");
      ip(host, "link", "add", "docker0", "type", "bridge");
      ip(host, "addr", "add", "fd00:dead::1/64", "dev", "docker0", "nodad");
      ip(host, "link", "set", "docker0", "up");
      int n = 0;
      for (String[] c :
          List.of(new String[] {c1, "fd00:dead::2/64"}, new String[] {c2, "fd00:dead::3/64"})) {
        String hostSide = "veth" + n++;
        veth(host, hostSide, c[0], "eth0");
        ip(host, "link", "set", hostSide, "master", "docker0");
        ip(c[0], "addr", "add", c[1], "dev", "eth0", "nodad");
        ip(c[0], "-6", "route", "add", "default", "via", "fd00:dead::1");
      }
      veth(host, "eth0", ext, "eth0");
      ip(host, "addr", "add", "2001:db8:9::1/64", "dev", "eth0", "nodad");
      ip(ext, "addr", "add", "2001:db8:9::2/64", "dev", "eth0", "nodad");
      sysctl(host, "net.ipv6.conf.all.forwarding=1");
      exec(host, DOCKER6_RULES, "ip6tables-restore");
      awaitLinkLocalAddresses(net);
      List<ProbeServer> servers =
          List.of(serve(net, "c1", 80), serve(net, "c2", 80), serve(net, "ext", 80));
      check(
          net,
          List.of(
              // a published port: DNAT in DOCKER, accepted by the DOCKER filter chain
              new Flow("ext", "2001:db8:9::2", "2001:db8:9::1", "tcp", 8080, "delivered"),
              // not published
              new Flow("ext", "2001:db8:9::2", "2001:db8:9::1", "tcp", 9090, "rejected"),
              // containers reach the outside, masqueraded to the host's address
              new Flow("c1", "fd00:dead::2", "2001:db8:9::2", "tcp", 80, "delivered"),
              new Flow("c1", "fd00:dead::2", "2001:db8:9::2", "udp", 53, "delivered"),
              // the host itself: nothing listens
              new Flow("c1", "fd00:dead::2", "fd00:dead::1", "tcp", 22, "rejected"),
              // DOCKER-USER is consulted first
              new Flow("c2", "fd00:dead::3", "2001:db8:9::2", "tcp", 80, "dropped")),
          servers);
    }
  }

  /**
   * Waits until no address of the network is tentative: an interface's link-local address (the
   * source of its neighbour solicitations) is usable only once duplicate address detection ends.
   */
  private static void awaitLinkLocalAddresses(ScratchNetwork net) {
    Tweed.await(
        "no tentative IPv6 address",
        java.time.Duration.ofSeconds(10),
        () ->
            net.namespaces().stream()
                .allMatch(ns -> exec(ns, "", "ip", "-6", "addr", "show", "tentative").isBlank()));
  }

  static final String DOCKER6_RULES =
      """
      *nat
      :PREROUTING ACCEPT [0:0]
      :INPUT ACCEPT [0:0]
      :OUTPUT ACCEPT [0:0]
      :POSTROUTING ACCEPT [0:0]
      :DOCKER - [0:0]
      -A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER
      -A OUTPUT ! -d ::1/128 -m addrtype --dst-type LOCAL -j DOCKER
      -A POSTROUTING -s fd00:dead::/64 ! -o docker0 -j MASQUERADE
      -A POSTROUTING -s fd00:dead::2/128 -d fd00:dead::2/128 -p tcp -m tcp --dport 80 -j MASQUERADE
      -A DOCKER -i docker0 -j RETURN
      -A DOCKER ! -i docker0 -p tcp -m tcp --dport 8080 -j DNAT --to-destination [fd00:dead::2]:80
      COMMIT
      *filter
      :INPUT ACCEPT [0:0]
      :FORWARD DROP [0:0]
      :OUTPUT ACCEPT [0:0]
      :DOCKER - [0:0]
      :DOCKER-ISOLATION-STAGE-1 - [0:0]
      :DOCKER-ISOLATION-STAGE-2 - [0:0]
      :DOCKER-USER - [0:0]
      -A FORWARD -j DOCKER-USER
      -A FORWARD -j DOCKER-ISOLATION-STAGE-1
      -A FORWARD -o docker0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
      -A FORWARD -o docker0 -j DOCKER
      -A FORWARD -i docker0 ! -o docker0 -j ACCEPT
      -A FORWARD -i docker0 -o docker0 -j ACCEPT
      -A DOCKER -d fd00:dead::2/128 ! -i docker0 -o docker0 -p tcp -m tcp --dport 80 -j ACCEPT
      -A DOCKER-ISOLATION-STAGE-1 -i docker0 ! -o docker0 -j DOCKER-ISOLATION-STAGE-2
      -A DOCKER-ISOLATION-STAGE-1 -j RETURN
      -A DOCKER-ISOLATION-STAGE-2 -o docker0 -j DROP
      -A DOCKER-ISOLATION-STAGE-2 -j RETURN
      -A DOCKER-USER -s fd00:dead::3/128 ! -d fd00:dead::/64 -j DROP
      -A DOCKER-USER -j RETURN
      COMMIT
      """;

  /**
   * Two Flannel nodes (VXLAN backend): cni0 bridges, flannel.1 devices with the neighbour, FDB and
   * onlink routes flanneld writes, its FLANNEL-POSTRTG and FLANNEL-FWD chains, FORWARD's policy
   * DROP as on a Docker-era node, and br_netfilter on.
   */
  @Test
  void twoFlannelNodes() throws Exception {
    try (ScratchNetwork net = new ScratchNetwork("fl")) {
      String a = net.add("node-a");
      String b = net.add("node-b");
      String a1 = net.add("pod-a1");
      String a2 = net.add("pod-a2");
      String b1 = net.add("pod-b1");
      veth(a, "eth0", b, "eth0");
      ip(a, "addr", "add", "192.168.77.1/24", "dev", "eth0");
      ip(b, "addr", "add", "192.168.77.2/24", "dev", "eth0");
      String[][] nodes = {
        {a, "0", "192.168.77.1", "0a:58:0a:f4:00:00"}, {b, "1", "192.168.77.2", "0a:58:0a:f4:01:00"}
      };
      for (String[] nd : nodes) {
        String node = nd[0];
        ip(node, "link", "add", "cni0", "type", "bridge");
        ip(node, "addr", "add", "10.244." + nd[1] + ".1/24", "dev", "cni0");
        ip(node, "link", "set", "cni0", "up");
        ip(
            node,
            "link",
            "add",
            "flannel.1",
            "address",
            nd[3],
            "type",
            "vxlan",
            "id",
            "1",
            "local",
            nd[2],
            "dev",
            "eth0",
            "dstport",
            "8472",
            "nolearning");
        ip(node, "addr", "add", "10.244." + nd[1] + ".0/32", "dev", "flannel.1");
        ip(node, "link", "set", "flannel.1", "up");
        sysctl(node, "net.ipv4.ip_forward=1");
        exec(
            node, FLANNEL_RULES.replace("SUBNET", "10.244." + nd[1] + ".0/24"), "iptables-restore");
      }
      // What flanneld writes for the other node's subnet.
      for (int i = 0; i < 2; i++) {
        String node = nodes[i][0];
        String[] other = nodes[1 - i];
        ip(
            node,
            "route",
            "add",
            "10.244." + other[1] + ".0/24",
            "via",
            "10.244." + other[1] + ".0",
            "dev",
            "flannel.1",
            "onlink");
        ip(
            node,
            "neigh",
            "add",
            "10.244." + other[1] + ".0",
            "lladdr",
            other[3],
            "dev",
            "flannel.1",
            "nud",
            "permanent");
        exec(node, "", "bridge", "fdb", "add", other[3], "dev", "flannel.1", "dst", other[2]);
      }
      int n = 0;
      for (String[] p :
          List.of(
              new String[] {a, a1, "10.244.0.2/24", "10.244.0.1"},
              new String[] {a, a2, "10.244.0.3/24", "10.244.0.1"},
              new String[] {b, b1, "10.244.1.2/24", "10.244.1.1"})) {
        String hostSide = "veth" + n++;
        veth(p[0], hostSide, p[1], "eth0");
        ip(p[0], "link", "set", hostSide, "master", "cni0");
        ip(p[1], "addr", "add", p[2], "dev", "eth0");
        ip(p[1], "route", "add", "default", "via", p[3]);
      }
      List<ProbeServer> servers =
          List.of(
              serve(net, "pod-a2", 8080), serve(net, "pod-b1", 8080), serve(net, "node-b", 10250));
      check(
          net,
          List.of(
              // across nodes through flannel.1, unmasqueraded
              new Flow("pod-a1", "10.244.0.2", "10.244.1.2", "tcp", 8080, "delivered"),
              new Flow("pod-a1", "10.244.0.2", "10.244.1.2", "udp", 53, "delivered"),
              new Flow("pod-a1", "10.244.0.2", "10.244.1.2", "tcp", 9999, "rejected"),
              // on one node, bridged by cni0: FORWARD sees it (br_netfilter), FLANNEL-FWD accepts
              new Flow("pod-a1", "10.244.0.2", "10.244.0.3", "tcp", 8080, "delivered"),
              // to the other node's underlay address: masqueraded by FLANNEL-POSTRTG
              new Flow("pod-a1", "10.244.0.2", "192.168.77.2", "tcp", 10250, "delivered"),
              // an address of no subnet and no default route: the node answers net unreachable
              new Flow("pod-b1", "10.244.1.2", "10.244.7.7", "tcp", 80, "rejected")),
          servers);
    }
  }

  static final String FLANNEL_RULES =
      """
      *nat
      :PREROUTING ACCEPT [0:0]
      :INPUT ACCEPT [0:0]
      :OUTPUT ACCEPT [0:0]
      :POSTROUTING ACCEPT [0:0]
      :FLANNEL-POSTRTG - [0:0]
      -A POSTROUTING -m comment --comment "flanneld masq" -j FLANNEL-POSTRTG
      -A FLANNEL-POSTRTG -m mark --mark 0x4000/0x4000 -m comment --comment "flanneld masq" -j RETURN
      -A FLANNEL-POSTRTG -s SUBNET -d 10.244.0.0/16 -m comment --comment "flanneld masq" -j RETURN
      -A FLANNEL-POSTRTG -s 10.244.0.0/16 -d SUBNET -m comment --comment "flanneld masq" -j RETURN
      -A FLANNEL-POSTRTG ! -s 10.244.0.0/16 -d SUBNET -m comment --comment "flanneld masq" -j RETURN
      -A FLANNEL-POSTRTG -s 10.244.0.0/16 ! -d 224.0.0.0/4 -m comment --comment "flanneld masq" -j MASQUERADE --random-fully
      -A FLANNEL-POSTRTG ! -s 10.244.0.0/16 -d 10.244.0.0/16 -m comment --comment "flanneld masq" -j MASQUERADE --random-fully
      COMMIT
      *filter
      :INPUT ACCEPT [0:0]
      :FORWARD DROP [0:0]
      :OUTPUT ACCEPT [0:0]
      :FLANNEL-FWD - [0:0]
      -A FORWARD -m comment --comment "flanneld forward" -j FLANNEL-FWD
      -A FLANNEL-FWD -s 10.244.0.0/16 -m comment --comment "flanneld forward" -j ACCEPT
      -A FLANNEL-FWD -d 10.244.0.0/16 -m comment --comment "flanneld forward" -j ACCEPT
      COMMIT
      """;

  /**
   * A Calico node: workloads on cali* veths without addresses, proxy-ARP answering for 169.254.1.1,
   * a /32 route per workload, and felix's chains: the raw mark reset, the from/to-workload dispatch
   * by interface, per-endpoint chains with conntrack shortcuts, a policy whose peers are an ipset
   * and whose verdict is the 0x10000 mark, the namespace profile, and NAT-outgoing for the IP pool.
   */
  @Test
  void aCalicoNode() throws Exception {
    try (ScratchNetwork net = new ScratchNetwork("ca")) {
      String node = net.add("node");
      String ext = net.add("ext");
      veth(node, "eth0", ext, "eth0");
      ip(node, "addr", "add", "172.30.8.1/24", "dev", "eth0");
      ip(ext, "addr", "add", "172.30.8.2/24", "dev", "eth0");
      // The node's default route is what makes proxy-ARP answer for 169.254.1.1: the kernel
      // answers for addresses it routes out of another interface.
      ip(node, "route", "add", "default", "via", "172.30.8.2", "dev", "eth0");
      sysctl(node, "net.ipv4.ip_forward=1");
      String[][] workloads = {
        {"client", "caliaaaa", "10.65.0.2"},
        {"web", "calibbbb", "10.65.0.3"},
        {"other", "calicccc", "10.65.0.4"}
      };
      for (String[] w : workloads) {
        String pod = net.add(w[0]);
        veth(node, w[1], pod, "eth0");
        sysctl(node, "net.ipv4.conf." + w[1] + ".proxy_arp=1");
        sysctl(node, "net.ipv4.neigh." + w[1] + ".proxy_delay=0");
        ip(node, "route", "add", w[2] + "/32", "dev", w[1], "scope", "link");
        ip(pod, "addr", "add", w[2] + "/32", "dev", "eth0");
        ip(pod, "route", "add", "169.254.1.1", "dev", "eth0", "scope", "link");
        ip(pod, "route", "add", "default", "via", "169.254.1.1", "dev", "eth0");
      }
      exec(node, CALICO_IPSETS, "ipset", "restore");
      exec(node, CALICO_RULES, "iptables-restore");
      List<ProbeServer> servers =
          List.of(serve(net, "web", 8080), serve(net, "ext", 80), serve(net, "other", 8080));
      check(
          net,
          List.of(
              // the policy admits client on 8080 (ipset peer, 0x10000 mark)
              new Flow("client", "10.65.0.2", "10.65.0.3", "tcp", 8080, "delivered"),
              // not other, and not another port
              new Flow("other", "10.65.0.4", "10.65.0.3", "tcp", 8080, "dropped"),
              new Flow("client", "10.65.0.2", "10.65.0.3", "tcp", 9999, "dropped"),
              // a workload without policy: the profile admits
              new Flow("client", "10.65.0.2", "10.65.0.4", "tcp", 8080, "delivered"),
              // out of the pool: NAT-outgoing
              new Flow("client", "10.65.0.2", "172.30.8.2", "tcp", 80, "delivered"),
              new Flow("web", "10.65.0.3", "172.30.8.2", "udp", 53, "delivered"),
              // to the host: cali-wl-to-host, then nothing listens
              new Flow("client", "10.65.0.2", "172.30.8.1", "tcp", 22, "rejected")),
          servers);
    }
  }

  static final String CALICO_IPSETS =
      """
      create cali40s:qGF2h4sMJoC2WlEAAnAzUg hash:net family inet hashsize 1024 maxelem 1048576
      add cali40s:qGF2h4sMJoC2WlEAAnAzUg 10.65.0.2
      create cali40masq-ipam-pools hash:net family inet hashsize 1024 maxelem 1048576
      add cali40masq-ipam-pools 10.65.0.0/16
      create cali40all-ipam-pools hash:net family inet hashsize 1024 maxelem 1048576
      add cali40all-ipam-pools 10.65.0.0/16
      """;

  static final String CALICO_RULES =
      """
      *raw
      :PREROUTING ACCEPT [0:0]
      :OUTPUT ACCEPT [0:0]
      :cali-OUTPUT - [0:0]
      :cali-PREROUTING - [0:0]
      :cali-from-host-endpoint - [0:0]
      :cali-to-host-endpoint - [0:0]
      -A PREROUTING -m comment --comment "cali:6gwbT8clXdHdC1b1" -j cali-PREROUTING
      -A OUTPUT -m comment --comment "cali:tVnHkvAo15HuiPy0" -j cali-OUTPUT
      -A cali-OUTPUT -m comment --comment "cali:njdnLwYeGqBJyh8Y" -j MARK --set-xmark 0x0/0xf0000
      -A cali-OUTPUT -m comment --comment "cali:rz86uTUcEZAfFsh7" -j cali-to-host-endpoint
      -A cali-OUTPUT -m comment --comment "cali:pN0F5zD0b8yf9W1Z" -m mark --mark 0x10000/0x10000 -j ACCEPT
      -A cali-PREROUTING -m comment --comment "cali:XFX5xbM8B9qR10JG" -j MARK --set-xmark 0x0/0xf0000
      -A cali-PREROUTING -i cali+ -m comment --comment "cali:EWMPb0zVROM-woQp" -j MARK --set-xmark 0x40000/0x40000
      -A cali-PREROUTING -m comment --comment "cali:Ek_rsNpxoDt8j2fM" -m mark --mark 0x0/0x40000 -j cali-from-host-endpoint
      -A cali-PREROUTING -m comment --comment "cali:nM-DzTFPwQbQvtRj" -m mark --mark 0x10000/0x10000 -j ACCEPT
      COMMIT
      *nat
      :PREROUTING ACCEPT [0:0]
      :INPUT ACCEPT [0:0]
      :OUTPUT ACCEPT [0:0]
      :POSTROUTING ACCEPT [0:0]
      :cali-POSTROUTING - [0:0]
      :cali-nat-outgoing - [0:0]
      -A POSTROUTING -m comment --comment "cali:O3lYWMrLQYEMJtB5" -j cali-POSTROUTING
      -A cali-POSTROUTING -m comment --comment "cali:Z-c7XtVd2Bq7s_hA" -j cali-nat-outgoing
      -A cali-nat-outgoing -m comment --comment "cali:flqWnvo8yq4ULQLa" -m set --match-set cali40masq-ipam-pools src -m set ! --match-set cali40all-ipam-pools dst -j MASQUERADE --random-fully
      COMMIT
      *filter
      :INPUT ACCEPT [0:0]
      :FORWARD ACCEPT [0:0]
      :OUTPUT ACCEPT [0:0]
      :cali-FORWARD - [0:0]
      :cali-INPUT - [0:0]
      :cali-fw-caliaaaa - [0:0]
      :cali-fw-calibbbb - [0:0]
      :cali-fw-calicccc - [0:0]
      :cali-from-wl-dispatch - [0:0]
      :cali-pi-_Gr1Ybm4gNJzQ5WHmbhs - [0:0]
      :cali-pro-kns.default - [0:0]
      :cali-pri-kns.default - [0:0]
      :cali-to-wl-dispatch - [0:0]
      :cali-tw-caliaaaa - [0:0]
      :cali-tw-calibbbb - [0:0]
      :cali-tw-calicccc - [0:0]
      :cali-wl-to-host - [0:0]
      -A INPUT -m comment --comment "cali:Cz_u1IQiXIMmKD4c" -j cali-INPUT
      -A FORWARD -m comment --comment "cali:wUHhoiAYhphO9Mso" -j cali-FORWARD
      -A cali-FORWARD -m comment --comment "cali:vjrMJCRpqwy5oRoX" -j MARK --set-xmark 0x0/0xe0000
      -A cali-FORWARD -i cali+ -m comment --comment "cali:8ZoYfO5HKXWbB3pk" -j cali-from-wl-dispatch
      -A cali-FORWARD -o cali+ -m comment --comment "cali:jdEuaPBe14V2hutn" -j cali-to-wl-dispatch
      -A cali-FORWARD -m comment --comment "cali:MH9kMp5aNICL-Olv" -m comment --comment "Policy explicitly accepted packet." -m mark --mark 0x10000/0x10000 -j ACCEPT
      -A cali-INPUT -i cali+ -m comment --comment "cali:FewJpBykm9iJ-YNH" -g cali-wl-to-host
      -A cali-INPUT -m comment --comment "cali:ZrXRu8NCzzqfxB52" -m mark --mark 0x10000/0x10000 -j ACCEPT
      -A cali-wl-to-host -m comment --comment "cali:Ee9Sbo10IpVujdIY" -j cali-from-wl-dispatch
      -A cali-wl-to-host -m comment --comment "cali:nSZbcOoG1xPONxb8" -m comment --comment "Configured DefaultEndpointToHostAction" -j ACCEPT
      -A cali-from-wl-dispatch -i caliaaaa -m comment --comment "cali:bW9xXZpKSpPgqkBn" -g cali-fw-caliaaaa
      -A cali-from-wl-dispatch -i calibbbb -m comment --comment "cali:j3Gl9oTJNMAtkyFo" -g cali-fw-calibbbb
      -A cali-from-wl-dispatch -i calicccc -m comment --comment "cali:4kj6ZyTBVuwWR3DZ" -g cali-fw-calicccc
      -A cali-from-wl-dispatch -m comment --comment "cali:z6U1Y_2wwo0XABZ3" -m comment --comment "Unknown interface" -j DROP
      -A cali-to-wl-dispatch -o caliaaaa -m comment --comment "cali:Q_43Q4yE1eEJvL_5" -g cali-tw-caliaaaa
      -A cali-to-wl-dispatch -o calibbbb -m comment --comment "cali:NAM6TH0d6HIu2kvn" -g cali-tw-calibbbb
      -A cali-to-wl-dispatch -o calicccc -m comment --comment "cali:X2V6qFMgctuZsaWO" -g cali-tw-calicccc
      -A cali-to-wl-dispatch -m comment --comment "cali:vhjl3hSWZm1jIQMn" -m comment --comment "Unknown interface" -j DROP
      -A cali-fw-caliaaaa -m comment --comment "cali:N0Q0qZ6ZHkjfPMRO" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
      -A cali-fw-caliaaaa -m comment --comment "cali:ntb9oQlX2Cg6cvMk" -m conntrack --ctstate INVALID -j DROP
      -A cali-fw-caliaaaa -m comment --comment "cali:VLZ8cGq3BWfqm0KD" -j MARK --set-xmark 0x0/0x10000
      -A cali-fw-caliaaaa -p udp -m comment --comment "cali:U8Npt7j3L9ku5Ax2" -m comment --comment "Drop VXLAN encapped packets originating in workloads" -m multiport --dports 4789 -j DROP
      -A cali-fw-caliaaaa -m comment --comment "cali:2ZtXbY_sIB6Lk3QC" -j cali-pro-kns.default
      -A cali-fw-caliaaaa -m comment --comment "cali:bQ2QbtKeqVdDRe7D" -m comment --comment "Return if profile accepted" -m mark --mark 0x10000/0x10000 -j RETURN
      -A cali-fw-caliaaaa -m comment --comment "cali:W2Y6Xg0aM6nnj4ix" -m comment --comment "Drop if no profiles matched" -j DROP
      -A cali-fw-calibbbb -m comment --comment "cali:hfCfMFiKKtSsVZdE" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
      -A cali-fw-calibbbb -m comment --comment "cali:0RaCTnD1oOwjBwMZ" -m conntrack --ctstate INVALID -j DROP
      -A cali-fw-calibbbb -m comment --comment "cali:QZNbJK2lsTZ-4wKP" -j MARK --set-xmark 0x0/0x10000
      -A cali-fw-calibbbb -m comment --comment "cali:dFJ3fGJ3nB3oTKyY" -j cali-pro-kns.default
      -A cali-fw-calibbbb -m comment --comment "cali:PNOwhwnVzx7eBfEn" -m comment --comment "Return if profile accepted" -m mark --mark 0x10000/0x10000 -j RETURN
      -A cali-fw-calibbbb -m comment --comment "cali:8Ai1CAWlJ6vFOQe_" -m comment --comment "Drop if no profiles matched" -j DROP
      -A cali-fw-calicccc -m comment --comment "cali:jEQOTmzdkkNK-TGD" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
      -A cali-fw-calicccc -m comment --comment "cali:tWKtBclUr7gRcEn9" -m conntrack --ctstate INVALID -j DROP
      -A cali-fw-calicccc -m comment --comment "cali:ThRL3ZWDA2JW8aVu" -j MARK --set-xmark 0x0/0x10000
      -A cali-fw-calicccc -m comment --comment "cali:S8C4R8jRdeO5PjNY" -j cali-pro-kns.default
      -A cali-fw-calicccc -m comment --comment "cali:zkP04LZ3hU2FzgsC" -m comment --comment "Return if profile accepted" -m mark --mark 0x10000/0x10000 -j RETURN
      -A cali-fw-calicccc -m comment --comment "cali:6eIFk1l2HXXTFQuB" -m comment --comment "Drop if no profiles matched" -j DROP
      -A cali-tw-caliaaaa -m comment --comment "cali:qmI3Tq1AHfbRu7Zt" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
      -A cali-tw-caliaaaa -m comment --comment "cali:gp0sXYaZBzfCg4sI" -m conntrack --ctstate INVALID -j DROP
      -A cali-tw-caliaaaa -m comment --comment "cali:3rB1VxRbF8sJm3Wn" -j MARK --set-xmark 0x0/0x10000
      -A cali-tw-caliaaaa -m comment --comment "cali:fvPdlRRZSvSEAqGf" -j cali-pri-kns.default
      -A cali-tw-caliaaaa -m comment --comment "cali:y3Io8xSnLqdkvgFG" -m comment --comment "Return if profile accepted" -m mark --mark 0x10000/0x10000 -j RETURN
      -A cali-tw-caliaaaa -m comment --comment "cali:HMSiEIbYCdoMtjnK" -m comment --comment "Drop if no profiles matched" -j DROP
      -A cali-tw-calibbbb -m comment --comment "cali:Kc-BMd0nqHK46p2R" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
      -A cali-tw-calibbbb -m comment --comment "cali:RFRK0ewXJ2GMt5zC" -m conntrack --ctstate INVALID -j DROP
      -A cali-tw-calibbbb -m comment --comment "cali:7PcQp0JhDQ2t3WcQ" -j MARK --set-xmark 0x0/0x10000
      -A cali-tw-calibbbb -m comment --comment "cali:Cn8lz7pXmGw-Ztqg" -m comment --comment "Start of policies" -j MARK --set-xmark 0x0/0x20000
      -A cali-tw-calibbbb -m comment --comment "cali:U0bCcvRzbl2mXzC7" -m mark --mark 0x0/0x20000 -j cali-pi-_Gr1Ybm4gNJzQ5WHmbhs
      -A cali-tw-calibbbb -m comment --comment "cali:7nPvA_I4WyNMdYuy" -m comment --comment "Return if policy accepted" -m mark --mark 0x10000/0x10000 -j RETURN
      -A cali-tw-calibbbb -m comment --comment "cali:0Vm4ShxGlyT0KGDX" -m comment --comment "Drop if no policies passed packet" -m mark --mark 0x0/0x20000 -j DROP
      -A cali-tw-calicccc -m comment --comment "cali:cWbEYUoWIEhOq8Br" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
      -A cali-tw-calicccc -m comment --comment "cali:Vw6PzU4mzYB3hgxi" -m conntrack --ctstate INVALID -j DROP
      -A cali-tw-calicccc -m comment --comment "cali:KXhMPxmkJo2YuC9s" -j MARK --set-xmark 0x0/0x10000
      -A cali-tw-calicccc -m comment --comment "cali:zUoPyB1Vj5GqRk0N" -j cali-pri-kns.default
      -A cali-tw-calicccc -m comment --comment "cali:pQLxbuBnPoNZ79BC" -m comment --comment "Return if profile accepted" -m mark --mark 0x10000/0x10000 -j RETURN
      -A cali-tw-calicccc -m comment --comment "cali:TaobHLe7yrwdqpWr" -m comment --comment "Drop if no profiles matched" -j DROP
      -A cali-pi-_Gr1Ybm4gNJzQ5WHmbhs -p tcp -m comment --comment "cali:6o8m3DZ8wYTFkU0X" -m set --match-set cali40s:qGF2h4sMJoC2WlEAAnAzUg src -m multiport --dports 8080 -j MARK --set-xmark 0x10000/0x10000
      -A cali-pi-_Gr1Ybm4gNJzQ5WHmbhs -m comment --comment "cali:HAsdVaUBkfxh_k6e" -m mark --mark 0x10000/0x10000 -j RETURN
      -A cali-pro-kns.default -m comment --comment "cali:NDxxGRcuBZ5k0YCW" -j MARK --set-xmark 0x10000/0x10000
      -A cali-pro-kns.default -m comment --comment "cali:kDUmcZe8xTsJFyJ4" -m mark --mark 0x10000/0x10000 -j RETURN
      -A cali-pri-kns.default -m comment --comment "cali:9ZQ7Y8uE5cU8wGVg" -j MARK --set-xmark 0x10000/0x10000
      -A cali-pri-kns.default -m comment --comment "cali:cY6nXK9Z_t5GZmRc" -m mark --mark 0x10000/0x10000 -j RETURN
      COMMIT
      """;

  /**
   * A multipath route: a router with two next hops to an anycast address served by two hosts. The
   * model forks (the kernel hashes the flow with a seed it keeps), and the kernel's choice must be
   * one of the branches, rule for rule.
   */
  @Test
  void aMultipathRoute() throws Exception {
    try (ScratchNetwork net = new ScratchNetwork("mp")) {
      String client = net.add("client");
      String router = net.add("router");
      String a = net.add("a");
      String b = net.add("b");
      veth(client, "eth0", router, "eth0");
      ip(client, "addr", "add", "10.0.0.2/24", "dev", "eth0");
      ip(client, "route", "add", "default", "via", "10.0.0.1");
      ip(router, "addr", "add", "10.0.0.1/24", "dev", "eth0");
      sysctl(router, "net.ipv4.ip_forward=1");
      String[][] ends = {{a, "eth1", "10.1.0"}, {b, "eth2", "10.2.0"}};
      for (String[] e : ends) {
        veth(router, e[1], e[0], "eth0");
        ip(router, "addr", "add", e[2] + ".1/24", "dev", e[1]);
        ip(e[0], "addr", "add", e[2] + ".2/24", "dev", "eth0");
        ip(e[0], "addr", "add", "198.51.100.1/32", "dev", "lo");
        ip(e[0], "route", "add", "default", "via", e[2] + ".1");
      }
      ip(
          router,
          "route",
          "add",
          "198.51.100.1/32",
          "nexthop",
          "via",
          "10.1.0.2",
          "dev",
          "eth1",
          "nexthop",
          "via",
          "10.2.0.2",
          "dev",
          "eth2");
      TraceWorld world = net.capture();
      List<Outcome> outcomes =
          new Tracer(world)
              .fromLocalProcess(client, Packet.of("10.0.0.2", "198.51.100.1", "tcp", 40000, 80));
      assertThat(outcomes).hasSize(2);
      assertThat(outcomes).allMatch(o -> Math.abs(o.probability() - 0.5) < 1e-9);
      assertThat(outcomes.stream().map(o -> world.label(o.hops().getLast().netns())))
          .containsExactlyInAnyOrder("a", "b");
      List<Flow> flows = new ArrayList<>();
      for (int i = 0; i < 6; i++) {
        flows.add(new Flow("client", "10.0.0.2", "198.51.100.1", "tcp", 80, "delivered"));
      }
      check(net, flows, List.of(serve(net, "a", 80), serve(net, "b", 80)));
    }
  }
}
