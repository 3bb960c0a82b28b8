package dev.tweed.proxy;

import dev.tweed.model.IpFamily;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import java.util.TreeMap;

/** Random Services of every kind the proxies render, and random changes to them, for tests. */
public final class RandomServices {
  private RandomServices() {}

  /**
   * One random change to one of {@code services} (by {@code svcN}): removed, replaced by a new
   * random one, or some of its ports given new endpoints. Returns its {@code namespace/name}.
   */
  public static String changeOne(Random random, TreeMap<String, List<ServicePort>> services) {
    return changeOne(random, services, IpFamily.IPV4);
  }

  /** The same, new Services and endpoints in {@code family}. */
  public static String changeOne(
      Random random, TreeMap<String, List<ServicePort>> services, IpFamily family) {
    int i = random.nextInt(16);
    String name = "svc" + i;
    switch (random.nextInt(4)) {
      case 0 -> services.remove(name);
      case 1 -> services.put(name, service(random, i, family));
      default -> {
        List<ServicePort> ps = services.get(name);
        if (ps != null) {
          List<ServicePort> changed = new ArrayList<>();
          for (ServicePort p : ps) {
            changed.add(random.nextBoolean() ? p.withEndpoints(endpoints(random, family)) : p);
          }
          services.put(name, changed);
        }
      }
    }
    return "ns" + (i % 3) + "/" + name;
  }

  /** {@code svcN} of {@code nsM/svcN}. */
  public static String name(String key) {
    return key.substring(key.indexOf('/') + 1);
  }

  public static List<ServicePort> ports(TreeMap<String, List<ServicePort>> services) {
    return services.values().stream().flatMap(List::stream).toList();
  }

  /** One to two ports of every kind the proxy renders, with zero to four endpoints each. */
  public static List<ServicePort> service(Random r, int i) {
    return service(r, i, IpFamily.IPV4);
  }

  /** The same in {@code family}: its addresses, ranges and endpoints all of that family. */
  public static List<ServicePort> service(Random r, int i, IpFamily family) {
    boolean v4 = family == IpFamily.IPV4;
    String clusterIp = v4 ? "10.96.0." + (10 + i) : "fd00:10:96::" + Integer.toHexString(10 + i);
    boolean nodePort = r.nextInt(3) == 0;
    boolean lb = r.nextInt(4) == 0;
    boolean local = (nodePort || lb) && r.nextBoolean();
    List<ServicePort> out = new ArrayList<>();
    int portCount = 1 + r.nextInt(2);
    for (int p = 0; p < portCount; p++) {
      String protocol = List.of("TCP", "TCP", "UDP", "SCTP").get(r.nextInt(4));
      out.add(
          new ServicePort(
              "ns" + (i % 3),
              "svc" + i,
              portCount == 1 ? "" : "p" + p,
              protocol,
              clusterIp,
              80 + p,
              nodePort || lb ? 30000 + i * 2 + p : 0,
              r.nextInt(5) == 0
                  ? List.of(v4 ? "192.0.2." + (i + 1) : "2001:db8::" + (i + 1))
                  : List.of(),
              lb ? List.of(v4 ? "198.51.100." + (i + 1) : "2001:db8:100::" + (i + 1)) : List.of(),
              lb && r.nextBoolean()
                  ? List.of(v4 ? "203.0.113.0/24" : "2001:db8:ff::/48")
                  : List.of(),
              r.nextInt(4) == 0 ? Optional.of(60 + r.nextInt(600)) : Optional.empty(),
              local,
              r.nextInt(6) == 0,
              local ? 32000 + i : 0,
              endpoints(r, family)));
    }
    return out;
  }

  static List<ServicePort.Endpoint> endpoints(Random r, IpFamily family) {
    List<ServicePort.Endpoint> out = new ArrayList<>();
    int n = r.nextInt(5);
    for (int e = 0; e < n; e++) {
      String ip =
          family == IpFamily.IPV4
              ? "10.244." + r.nextInt(3) + "." + (2 + r.nextInt(30))
              : "fd00:10:244:" + r.nextInt(3) + "::" + Integer.toHexString(2 + r.nextInt(30));
      if (out.stream().noneMatch(x -> x.ip().equals(ip))) {
        out.add(new ServicePort.Endpoint(ip, 8080, Optional.of("node-" + (1 + r.nextInt(3)))));
      }
    }
    return out;
  }
}
