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
 * and two Flannel nodes. Each flow is traced by the model and sent for real; the model's verdict
 * must be the expected one and its rule path the kernel's.
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
        List<Outcome> outcomes = new Tracer(world).fromLocalProcess(net.ns(f.from()), p);
        JourneyCheck.Result r = v.check(world, net.ns(f.from()), p, outcomes);
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
}
