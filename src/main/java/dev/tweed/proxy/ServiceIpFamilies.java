package dev.tweed.proxy;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tweed.model.FamilyCidrs;
import dev.tweed.model.IpAddress;
import dev.tweed.model.IpFamily;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * A Service's IP family fields as the API server settles them ({@code spec.ipFamilyPolicy}, {@code
 * spec.ipFamilies}, {@code spec.clusterIPs}): the policy defaults to SingleStack, or to
 * RequireDualStack when two families or two clusterIPs are given; the families follow the
 * clusterIPs given, else the families given, else the cluster's primary one, and a dual-stack
 * policy on a dual-stack cluster adds the other. The refusals are the API server's: a dual-stack
 * requirement on a single-stack cluster, a family the cluster lacks, a clusterIP of another family
 * than its position says, more than two families, two of one family.
 *
 * @param policy SingleStack, PreferDualStack or RequireDualStack
 * @param families in the Service's order; empty for ExternalName
 * @param clusterIps the clusterIPs given (possibly {@code None}), one per family at most
 */
public record ServiceIpFamilies(String policy, List<IpFamily> families, List<String> clusterIps) {
  public static final String SINGLE = "SingleStack";
  public static final String PREFER_DUAL = "PreferDualStack";
  public static final String REQUIRE_DUAL = "RequireDualStack";

  public ServiceIpFamilies {
    families = List.copyOf(families);
    clusterIps = List.copyOf(clusterIps);
  }

  /** Settles the fields of {@code svc} for a cluster with Service ranges {@code cluster}. */
  public static ServiceIpFamilies of(JsonNode svc, FamilyCidrs cluster)
      throws ServiceValidator.Invalid {
    JsonNode spec = svc.path("spec");
    if ("ExternalName".equals(spec.path("type").asText())) {
      return new ServiceIpFamilies(SINGLE, List.of(), List.of());
    }
    List<String> ips = new ArrayList<>();
    spec.path("clusterIPs").forEach(n -> ips.add(n.asText()));
    String clusterIp = spec.path("clusterIP").asText("");
    if (ips.isEmpty() && !clusterIp.isEmpty()) {
      ips.add(clusterIp);
    } else if (!clusterIp.isEmpty() && !clusterIp.equals(ips.getFirst())) {
      throw new ServiceValidator.Invalid(
          "spec.clusterIPs[0]", "must be the same as spec.clusterIP (" + clusterIp + ")");
    }
    if (ips.size() > 2) {
      throw new ServiceValidator.Invalid("spec.clusterIPs", "may hold at most two addresses");
    }
    boolean headless = !ips.isEmpty() && ips.getFirst().equals("None");
    if (headless && ips.size() > 1) {
      throw new ServiceValidator.Invalid("spec.clusterIPs", "a headless Service has only None");
    }
    List<IpFamily> fromIps = new ArrayList<>();
    if (!headless) {
      for (int i = 0; i < ips.size(); i++) {
        try {
          fromIps.add(IpAddress.parse(ips.get(i)).family());
        } catch (IllegalArgumentException e) {
          throw new ServiceValidator.Invalid(
              "spec.clusterIPs[" + i + "]", "'" + ips.get(i) + "' is not an IP address");
        }
      }
    }
    List<IpFamily> given = new ArrayList<>();
    JsonNode fams = spec.path("ipFamilies");
    if (fams.size() > 2) {
      throw new ServiceValidator.Invalid("spec.ipFamilies", "may hold at most two families");
    }
    for (int i = 0; i < fams.size(); i++) {
      String f = fams.get(i).asText();
      if (!f.equals("IPv4") && !f.equals("IPv6")) {
        throw new ServiceValidator.Invalid(
            "spec.ipFamilies[" + i + "]", "must be IPv4 or IPv6, got '" + f + "'");
      }
      given.add(IpFamily.parse(f));
    }
    for (List<IpFamily> l : List.of(given, fromIps)) {
      if (l.size() == 2 && l.get(0) == l.get(1)) {
        throw new ServiceValidator.Invalid(
            l == given ? "spec.ipFamilies[1]" : "spec.clusterIPs[1]",
            "two " + l.get(0).apiName() + " entries: a dual-stack Service has one of each family");
      }
    }
    for (int i = 0; i < Math.min(given.size(), fromIps.size()); i++) {
      if (given.get(i) != fromIps.get(i)) {
        throw new ServiceValidator.Invalid(
            "spec.clusterIPs[" + i + "]",
            "expected an "
                + given.get(i).apiName()
                + " address as spec.ipFamilies["
                + i
                + "] says, got "
                + ips.get(i));
      }
    }
    String policy = spec.path("ipFamilyPolicy").asText("");
    if (policy.isEmpty()) {
      policy = given.size() == 2 || fromIps.size() == 2 ? REQUIRE_DUAL : SINGLE;
    }
    if (!List.of(SINGLE, PREFER_DUAL, REQUIRE_DUAL).contains(policy)) {
      throw new ServiceValidator.Invalid(
          "spec.ipFamilyPolicy",
          "must be SingleStack, PreferDualStack or RequireDualStack, got '" + policy + "'");
    }
    if (policy.equals(SINGLE) && (given.size() == 2 || fromIps.size() == 2)) {
      throw new ServiceValidator.Invalid(
          "spec.ipFamilyPolicy",
          "SingleStack: must be RequireDualStack or PreferDualStack when two families or"
              + " clusterIPs are given");
    }
    if (policy.equals(REQUIRE_DUAL) && !cluster.dualStack()) {
      throw new ServiceValidator.Invalid(
          "spec.ipFamilyPolicy", "RequireDualStack: this cluster is not configured for dual-stack");
    }
    List<IpFamily> families = new ArrayList<>(fromIps.size() >= given.size() ? fromIps : given);
    for (int i = 0; i < families.size(); i++) {
      if (cluster.of(families.get(i)).isEmpty()) {
        // PreferDualStack's second family is dropped on a single-stack cluster; any other is not.
        if (i == 1 && policy.equals(PREFER_DUAL) && fromIps.size() < 2) {
          families.remove(1);
          break;
        }
        throw new ServiceValidator.Invalid(
            fromIps.size() > i ? "spec.clusterIPs[" + i + "]" : "spec.ipFamilies[" + i + "]",
            families.get(i).apiName()
                + " is not configured on this cluster (its families: "
                + String.join(", ", cluster.families().stream().map(IpFamily::apiName).toList())
                + ")");
      }
    }
    if (families.isEmpty()) {
      families.add(cluster.primary());
    }
    if (!policy.equals(SINGLE) && cluster.dualStack() && families.size() == 1) {
      families.add(families.getFirst() == IpFamily.IPV4 ? IpFamily.IPV6 : IpFamily.IPV4);
    }
    for (int i = 0; i < fromIps.size(); i++) {
      var range = cluster.of(fromIps.get(i)).orElseThrow();
      if (!range.contains(IpAddress.parse(ips.get(i)))) {
        throw new ServiceValidator.Invalid(
            "spec.clusterIPs[" + i + "]", ips.get(i) + " is not in the service CIDR " + range);
      }
    }
    return new ServiceIpFamilies(policy, families, ips);
  }

  /** The clusterIP given for {@code family}, if any. */
  public Optional<String> given(IpFamily family) {
    return clusterIps.stream()
        .filter(a -> !a.equals("None") && IpFamily.of(a) == family)
        .findFirst();
  }

  public boolean headless() {
    return !clusterIps.isEmpty() && clusterIps.getFirst().equals("None");
  }
}
