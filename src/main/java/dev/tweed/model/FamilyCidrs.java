package dev.tweed.model;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;

/**
 * At most one CIDR per family, in the cluster's family order: what kube-proxy's and the controller
 * manager's {@code --cluster-cidr} and {@code --service-cluster-ip-range} take on a dual-stack
 * cluster ({@code 10.244.0.0/16,fd00:10:244::/56}). The first family is the cluster's primary: a
 * single-family Service or pod address defaults to it.
 */
public record FamilyCidrs(List<Cidr> cidrs) {
  public FamilyCidrs {
    cidrs = List.copyOf(cidrs);
    if (cidrs.isEmpty() || cidrs.size() > 2) {
      throw new IllegalArgumentException("one or two CIDRs, one per family: " + cidrs);
    }
    if (cidrs.size() == 2 && cidrs.get(0).family() == cidrs.get(1).family()) {
      throw new IllegalArgumentException("two CIDRs must be of different families: " + cidrs);
    }
  }

  /** A comma-separated list; host bits are refused. */
  public static FamilyCidrs parse(String text) {
    List<Cidr> list = new ArrayList<>();
    for (String part : text.split(",", -1)) {
      list.add(Cidr.parseStrict(part.trim()));
    }
    return new FamilyCidrs(list);
  }

  public static FamilyCidrs of(Cidr... cidrs) {
    return new FamilyCidrs(List.of(cidrs));
  }

  /** The families in the cluster's order. */
  public List<IpFamily> families() {
    return cidrs.stream().map(Cidr::family).toList();
  }

  public Set<IpFamily> familySet() {
    return new TreeSet<>(families());
  }

  public IpFamily primary() {
    return cidrs.getFirst().family();
  }

  public boolean dualStack() {
    return cidrs.size() == 2;
  }

  public Optional<Cidr> of(IpFamily family) {
    return cidrs.stream().filter(c -> c.family() == family).findFirst();
  }

  @Override
  public String toString() {
    return String.join(",", cidrs.stream().map(Cidr::toString).toList());
  }
}
