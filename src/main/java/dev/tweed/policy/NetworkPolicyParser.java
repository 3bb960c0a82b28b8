package dev.tweed.policy;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tweed.model.Cidr;
import dev.tweed.model.IpAddress;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Reads a NetworkPolicy object, validating it as the API server does and applying its defaults:
 * policyTypes is Ingress, plus Egress when egress rules are present, unless given; a port without a
 * protocol is TCP.
 */
public final class NetworkPolicyParser {
  private static final Set<String> PROTOCOLS = Set.of("TCP", "UDP", "SCTP");
  private static final Pattern PORT_NAME = Pattern.compile("[a-z0-9]([-a-z0-9]*[a-z0-9])?");

  private NetworkPolicyParser() {}

  public static NetworkPolicy parse(JsonNode o) throws InvalidPolicyException {
    JsonNode meta = o.path("metadata");
    JsonNode spec = o.path("spec");
    if (!spec.isObject()) {
      throw new InvalidPolicyException("spec", "is required");
    }
    if (!spec.has("podSelector")) {
      throw new InvalidPolicyException("spec.podSelector", "is required (use {} for every pod)");
    }
    LabelSelector podSelector = LabelSelector.parse(spec.path("podSelector"), "spec.podSelector");
    Set<String> types = new HashSet<>();
    JsonNode given = spec.path("policyTypes");
    if (!given.isMissingNode() && !given.isNull()) {
      if (!given.isArray()) {
        throw new InvalidPolicyException("spec.policyTypes", "must be a list");
      }
      for (int i = 0; i < given.size(); i++) {
        String t = given.get(i).asText();
        if (!t.equals("Ingress") && !t.equals("Egress")) {
          throw new InvalidPolicyException(
              "spec.policyTypes[" + i + "]", "'" + t + "' is not Ingress or Egress");
        }
        types.add(t);
      }
    }
    if (types.isEmpty()) {
      types.add("Ingress");
      if (spec.has("egress") && !spec.path("egress").isNull()) {
        types.add("Egress");
      }
    }
    List<NetworkPolicy.Rule> ingress = rules(spec.path("ingress"), "spec.ingress", "from");
    List<NetworkPolicy.Rule> egress = rules(spec.path("egress"), "spec.egress", "to");
    return new NetworkPolicy(
        meta.path("namespace").asText("default"),
        meta.path("name").asText(),
        podSelector,
        types.contains("Ingress") ? Optional.of(ingress) : Optional.empty(),
        types.contains("Egress") ? Optional.of(egress) : Optional.empty());
  }

  private static List<NetworkPolicy.Rule> rules(JsonNode list, String field, String peersField)
      throws InvalidPolicyException {
    List<NetworkPolicy.Rule> out = new ArrayList<>();
    if (list.isMissingNode() || list.isNull()) {
      return out;
    }
    if (!list.isArray()) {
      throw new InvalidPolicyException(field, "must be a list of rules");
    }
    for (int i = 0; i < list.size(); i++) {
      JsonNode r = list.get(i);
      String f = field + "[" + i + "]";
      List<NetworkPolicy.Peer> peers = new ArrayList<>();
      JsonNode ps = r.path(peersField);
      for (int j = 0; j < ps.size(); j++) {
        peers.add(peer(ps.get(j), f + "." + peersField + "[" + j + "]"));
      }
      List<NetworkPolicy.PolicyPort> ports = new ArrayList<>();
      JsonNode pp = r.path("ports");
      for (int j = 0; j < pp.size(); j++) {
        ports.add(port(pp.get(j), f + ".ports[" + j + "]"));
      }
      out.add(new NetworkPolicy.Rule(peers, ports));
    }
    return out;
  }

  private static NetworkPolicy.Peer peer(JsonNode p, String field) throws InvalidPolicyException {
    boolean ns = p.has("namespaceSelector") && !p.path("namespaceSelector").isNull();
    boolean pod = p.has("podSelector") && !p.path("podSelector").isNull();
    boolean ip = p.has("ipBlock") && !p.path("ipBlock").isNull();
    if (ip && (ns || pod)) {
      throw new InvalidPolicyException(
          field, "may not specify ipBlock together with podSelector or namespaceSelector");
    }
    if (ip) {
      JsonNode b = p.path("ipBlock");
      Cidr cidr = cidr(b.path("cidr").asText(""), field + ".ipBlock.cidr");
      List<String> except = new ArrayList<>();
      JsonNode ex = b.path("except");
      for (int i = 0; i < ex.size(); i++) {
        String f = field + ".ipBlock.except[" + i + "]";
        Cidr e = cidr(ex.get(i).asText(""), f);
        if (e.prefixLength() <= cidr.prefixLength() || !cidr.covers(e)) {
          throw new InvalidPolicyException(f, "must be a strict subset of " + cidr);
        }
        except.add(e.toString());
      }
      return new NetworkPolicy.IpBlockPeer(cidr.toString(), except);
    }
    if (!ns && !pod) {
      throw new InvalidPolicyException(
          field, "must specify at least one of podSelector, namespaceSelector or ipBlock");
    }
    return new NetworkPolicy.PodPeer(
        ns
            ? Optional.of(
                LabelSelector.parse(p.path("namespaceSelector"), field + ".namespaceSelector"))
            : Optional.empty(),
        LabelSelector.parse(p.path("podSelector"), field + ".podSelector"));
  }

  private static Cidr cidr(String text, String field) throws InvalidPolicyException {
    if (text.isEmpty()) {
      throw new InvalidPolicyException(field, "is required");
    }
    if (!text.contains("/")) {
      throw new InvalidPolicyException(field, "'" + text + "' is not a CIDR (address/length)");
    }
    Cidr c;
    try {
      c = Cidr.parse(text);
    } catch (IllegalArgumentException e) {
      throw new InvalidPolicyException(field, "'" + text + "' is not an IPv4 or IPv6 CIDR");
    }
    // As the API server's strict CIDR validation: 10.0.0.1/8 or fd00::1/64 most likely mean
    // something other than the network they would be read as.
    if (!IpAddress.parse(text.substring(0, text.indexOf('/'))).equals(c.base())) {
      throw new InvalidPolicyException(
          field, "'" + text + "' has host bits set: the network is " + c);
    }
    return c;
  }

  private static NetworkPolicy.PolicyPort port(JsonNode p, String field)
      throws InvalidPolicyException {
    String proto = p.path("protocol").asText("TCP");
    if (!PROTOCOLS.contains(proto)) {
      throw new InvalidPolicyException(
          field + ".protocol", "must be TCP, UDP or SCTP, got '" + proto + "'");
    }
    JsonNode port = p.path("port");
    Optional<Integer> number = Optional.empty();
    Optional<String> named = Optional.empty();
    if (port.isInt()) {
      if (port.asInt() < 1 || port.asInt() > 65535) {
        throw new InvalidPolicyException(
            field + ".port", "must be between 1 and 65535, got " + port.asInt());
      }
      number = Optional.of(port.asInt());
    } else if (port.isTextual()) {
      String name = port.asText();
      if (name.length() > 15 || !PORT_NAME.matcher(name).matches() || name.matches("[0-9-]+")) {
        throw new InvalidPolicyException(
            field + ".port", "'" + name + "' is not a valid port number or name");
      }
      named = Optional.of(name);
    } else if (!port.isMissingNode() && !port.isNull()) {
      throw new InvalidPolicyException(field + ".port", "must be a number or a name");
    }
    Optional<Integer> end = Optional.empty();
    JsonNode endPort = p.path("endPort");
    if (!endPort.isMissingNode() && !endPort.isNull()) {
      if (!endPort.isInt()) {
        throw new InvalidPolicyException(field + ".endPort", "must be a number");
      }
      if (number.isEmpty()) {
        throw new InvalidPolicyException(
            field + ".endPort", "may only be set when port is a number");
      }
      if (endPort.asInt() < number.get() || endPort.asInt() > 65535) {
        throw new InvalidPolicyException(
            field + ".endPort",
            "must be between port (" + number.get() + ") and 65535, got " + endPort.asInt());
      }
      end = Optional.of(endPort.asInt());
    }
    return new NetworkPolicy.PolicyPort(proto, number, named, end);
  }
}
