package dev.tweed.lab;

import dev.tweed.lab.NetpolScenario.Pod;
import java.util.List;

/**
 * The conformance suite, written from the networking.k8s.io/v1 semantics in the style of the
 * Kubernetes network-policy e2e tests: namespaces x, y, z (labelled {@code ns: NAME}) with pods a,
 * b, c (labelled {@code pod: NAME}), probed on TCP 80, TCP 81 and UDP 80.
 */
public final class NetpolScenarios {
  private NetpolScenarios() {}

  private static String policy(String ns, String name, String spec) {
    return "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {namespace: "
        + ns
        + ", name: "
        + name
        + "}\nspec:\n"
        + spec.stripIndent().indent(2);
  }

  private static boolean in(String ns, Pod p) {
    return p.ns().equals(ns);
  }

  public static List<NetpolScenario> all() {
    return List.of(
        new NetpolScenario("no policies: every pod reaches every pod", "", (f, t, p) -> true),
        new NetpolScenario(
            "deny all ingress in x: empty podSelector, no ingress list",
            policy("x", "deny-ingress", "podSelector: {}\npolicyTypes: [Ingress]"),
            (f, t, p) -> !in("x", t)),
        new NetpolScenario(
            "deny all egress in x",
            policy("x", "deny-egress", "podSelector: {}\npolicyTypes: [Egress]"),
            (f, t, p) -> !in("x", f)),
        new NetpolScenario(
            "deny all ingress and egress in x",
            policy("x", "deny-all", "podSelector: {}\npolicyTypes: [Ingress, Egress]"),
            (f, t, p) -> !in("x", f) && !in("x", t)),
        new NetpolScenario(
            "an empty ingress rule {} allows everything",
            policy("x", "allow-ingress", "podSelector: {}\ningress:\n- {}"),
            (f, t, p) -> true),
        new NetpolScenario(
            "an empty egress rule {} allows everything",
            policy("x", "allow-egress", "podSelector: {}\npolicyTypes: [Egress]\negress:\n- {}"),
            (f, t, p) -> true),
        new NetpolScenario(
            "policies add up: deny-all plus allow-all allows all",
            policy("x", "deny-ingress", "podSelector: {}\npolicyTypes: [Ingress]")
                + "---\n"
                + policy("x", "allow-ingress", "podSelector: {}\ningress:\n- {}"),
            (f, t, p) -> true),
        new NetpolScenario(
            "podSelector peer without namespaceSelector means the policy's namespace",
            policy(
                "x",
                "a-from-b",
                "podSelector: {matchLabels: {pod: a}}\ningress:\n- from:\n  - podSelector: {matchLabels: {pod: b}}"),
            (f, t, p) -> !t.is("x/a") || f.is("x/b")),
        new NetpolScenario(
            "namespaceSelector peer",
            policy(
                "x",
                "a-from-y",
                "podSelector: {matchLabels: {pod: a}}\ningress:\n- from:\n  - namespaceSelector: {matchLabels: {ns: y}}"),
            (f, t, p) -> !t.is("x/a") || in("y", f)),
        new NetpolScenario(
            "namespaceSelector AND podSelector in one peer",
            policy(
                "x",
                "a-from-y-c",
                """
                podSelector: {matchLabels: {pod: a}}
                ingress:
                - from:
                  - namespaceSelector: {matchLabels: {ns: y}}
                    podSelector: {matchLabels: {pod: c}}"""),
            (f, t, p) -> !t.is("x/a") || f.is("y/c")),
        new NetpolScenario(
            "namespaceSelector OR podSelector as two peers",
            policy(
                "x",
                "a-from-y-or-c",
                """
                podSelector: {matchLabels: {pod: a}}
                ingress:
                - from:
                  - namespaceSelector: {matchLabels: {ns: y}}
                  - podSelector: {matchLabels: {pod: c}}"""),
            (f, t, p) -> !t.is("x/a") || in("y", f) || f.is("x/c")),
        new NetpolScenario(
            "namespaceSelector {} with a podSelector: that pod in every namespace",
            policy(
                "x",
                "a-from-any-b",
                """
                podSelector: {matchLabels: {pod: a}}
                ingress:
                - from:
                  - namespaceSelector: {}
                    podSelector: {matchLabels: {pod: b}}"""),
            (f, t, p) -> !t.is("x/a") || f.name().equals("b")),
        new NetpolScenario(
            "namespaceSelector {} alone admits every pod of every namespace",
            policy(
                "x",
                "all-from-all-ns",
                "podSelector: {}\ningress:\n- from:\n  - namespaceSelector: {}"),
            (f, t, p) -> true),
        new NetpolScenario(
            "matchExpressions In on pods",
            policy(
                "x",
                "a-from-b-c",
                """
                podSelector: {matchLabels: {pod: a}}
                ingress:
                - from:
                  - namespaceSelector: {}
                    podSelector:
                      matchExpressions: [{key: pod, operator: In, values: [b, c]}]"""),
            (f, t, p) -> !t.is("x/a") || !f.name().equals("a")),
        new NetpolScenario(
            "matchExpressions NotIn on namespaces",
            policy(
                "x",
                "a-not-from-y",
                """
                podSelector: {matchLabels: {pod: a}}
                ingress:
                - from:
                  - namespaceSelector:
                      matchExpressions: [{key: ns, operator: NotIn, values: [y]}]"""),
            (f, t, p) -> !t.is("x/a") || !in("y", f)),
        new NetpolScenario(
            "namespaces carry kubernetes.io/metadata.name",
            policy(
                "x",
                "a-from-z",
                """
                podSelector: {matchLabels: {pod: a}}
                ingress:
                - from:
                  - namespaceSelector:
                      matchExpressions:
                      - {key: kubernetes.io/metadata.name, operator: In, values: [z]}"""),
            (f, t, p) -> !t.is("x/a") || in("z", f)),
        new NetpolScenario(
            "matchExpressions Exists and DoesNotExist",
            policy(
                "x",
                "a-from-labelled",
                """
                podSelector: {matchLabels: {pod: a}}
                ingress:
                - from:
                  - namespaceSelector:
                      matchExpressions: [{key: ns, operator: Exists}]
                    podSelector:
                      matchExpressions: [{key: pod, operator: DoesNotExist}]
                  - podSelector:
                      matchExpressions: [{key: pod, operator: Exists}]"""),
            (f, t, p) -> !t.is("x/a") || in("x", f)),
        new NetpolScenario(
            "ingress on TCP 80 only",
            policy(
                "x",
                "a-tcp-80",
                "podSelector: {matchLabels: {pod: a}}\ningress:\n- ports:\n  - {protocol: TCP, port: 80}"),
            (f, t, p) -> !t.is("x/a") || p.is("tcp", 80)),
        new NetpolScenario(
            "a port without protocol is TCP",
            policy(
                "x",
                "a-port-81",
                "podSelector: {matchLabels: {pod: a}}\ningress:\n- ports:\n  - {port: 81}"),
            (f, t, p) -> !t.is("x/a") || p.is("tcp", 81)),
        new NetpolScenario(
            "ingress on UDP 80 only",
            policy(
                "x",
                "a-udp-80",
                "podSelector: {matchLabels: {pod: a}}\ningress:\n- ports:\n  - {protocol: UDP, port: 80}"),
            (f, t, p) -> !t.is("x/a") || p.is("udp", 80)),
        new NetpolScenario(
            "a protocol without port allows every port of it",
            policy(
                "x",
                "a-udp",
                "podSelector: {matchLabels: {pod: a}}\ningress:\n- ports:\n  - {protocol: UDP}"),
            (f, t, p) -> !t.is("x/a") || p.proto().equals("udp")),
        new NetpolScenario(
            "several ports in one rule: any of them",
            policy(
                "x",
                "a-tcp80-udp80",
                """
                podSelector: {matchLabels: {pod: a}}
                ingress:
                - ports:
                  - {protocol: TCP, port: 80}
                  - {protocol: UDP, port: 80}"""),
            (f, t, p) -> !t.is("x/a") || p.number() == 80),
        new NetpolScenario(
            "named TCP port, resolved on the destination pod",
            policy(
                "x",
                "a-named-81",
                "podSelector: {matchLabels: {pod: a}}\ningress:\n- ports:\n  - {port: serve-81-tcp}"),
            (f, t, p) -> !t.is("x/a") || p.is("tcp", 81)),
        new NetpolScenario(
            "named UDP port",
            policy(
                "x",
                "a-named-udp",
                "podSelector: {matchLabels: {pod: a}}\ningress:\n- ports:\n  - {protocol: UDP, port: serve-80-udp}"),
            (f, t, p) -> !t.is("x/a") || p.is("udp", 80)),
        new NetpolScenario(
            "named port combined with a peer",
            policy(
                "x",
                "a-named-from-y",
                """
                podSelector: {matchLabels: {pod: a}}
                ingress:
                - from:
                  - namespaceSelector: {matchLabels: {ns: y}}
                  ports:
                  - {port: serve-80-tcp}"""),
            (f, t, p) -> !t.is("x/a") || (in("y", f) && p.is("tcp", 80))),
        new NetpolScenario(
            "endPort range 80-81",
            policy(
                "x",
                "a-range-80-81",
                "podSelector: {matchLabels: {pod: a}}\ningress:\n- ports:\n  - {protocol: TCP, port: 80, endPort: 81}"),
            (f, t, p) -> !t.is("x/a") || p.proto().equals("tcp")),
        new NetpolScenario(
            "endPort range 81-90",
            policy(
                "x",
                "a-range-81-90",
                "podSelector: {matchLabels: {pod: a}}\ningress:\n- ports:\n  - {protocol: TCP, port: 81, endPort: 90}"),
            (f, t, p) -> !t.is("x/a") || p.is("tcp", 81)),
        new NetpolScenario(
            "ipBlock of one pod's address (ipBlock matches pod addresses)",
            policy(
                "x",
                "a-from-ip",
                "podSelector: {matchLabels: {pod: a}}\ningress:\n- from:\n  - ipBlock: {cidr: \"${y/b}/${host}\"}"),
            (f, t, p) -> !t.is("x/a") || f.is("y/b")),
        new NetpolScenario(
            "ipBlock with except",
            policy(
                "x",
                "a-from-cidr-except",
                """
                podSelector: {matchLabels: {pod: a}}
                ingress:
                - from:
                  - ipBlock: {cidr: "${pods}", except: ["${y/b}/${host}"]}"""),
            (f, t, p) -> !t.is("x/a") || !f.is("y/b")),
        new NetpolScenario(
            "ipBlock 0.0.0.0/0 with except",
            policy(
                "x",
                "a-from-world-except",
                """
                podSelector: {matchLabels: {pod: a}}
                ingress:
                - from:
                  - ipBlock: {cidr: "${any}", except: ["${z/c}/${host}", "${y/a}/${host}"]}"""),
            (f, t, p) -> !t.is("x/a") || !(f.is("z/c") || f.is("y/a"))),
        new NetpolScenario(
            "egress to pods in the own namespace",
            policy(
                "x",
                "a-to-b",
                """
                podSelector: {matchLabels: {pod: a}}
                policyTypes: [Egress]
                egress:
                - to:
                  - podSelector: {matchLabels: {pod: b}}"""),
            (f, t, p) -> !f.is("x/a") || t.is("x/b")),
        new NetpolScenario(
            "egress to an ipBlock with except",
            policy(
                "x",
                "a-to-cidr-except",
                """
                podSelector: {matchLabels: {pod: a}}
                policyTypes: [Egress]
                egress:
                - to:
                  - ipBlock: {cidr: "${pods}", except: ["${z/a}/${host}"]}"""),
            (f, t, p) -> !f.is("x/a") || !t.is("z/a")),
        new NetpolScenario(
            "egress to a named port, resolved on each destination pod",
            policy(
                "x",
                "a-to-named-81",
                """
                podSelector: {matchLabels: {pod: a}}
                policyTypes: [Egress]
                egress:
                - ports:
                  - {port: serve-81-tcp}"""),
            (f, t, p) -> !f.is("x/a") || p.is("tcp", 81)),
        new NetpolScenario(
            "two policies on one pod add up",
            policy(
                    "x",
                    "a-from-y",
                    "podSelector: {matchLabels: {pod: a}}\ningress:\n- from:\n  - namespaceSelector: {matchLabels: {ns: y}}")
                + "---\n"
                + policy(
                    "x",
                    "a-from-z",
                    "podSelector: {matchLabels: {pod: a}}\ningress:\n- from:\n  - namespaceSelector: {matchLabels: {ns: z}}"),
            (f, t, p) -> !t.is("x/a") || !in("x", f)),
        new NetpolScenario(
            "a connection needs the source's egress and the destination's ingress",
            policy(
                    "x",
                    "b-to-y",
                    """
                    podSelector: {matchLabels: {pod: b}}
                    policyTypes: [Egress]
                    egress:
                    - to:
                      - namespaceSelector: {matchLabels: {ns: y}}""")
                + "---\n"
                + policy(
                    "y",
                    "a-from-z",
                    "podSelector: {matchLabels: {pod: a}}\ningress:\n- from:\n  - namespaceSelector: {matchLabels: {ns: z}}"),
            (f, t, p) -> (!f.is("x/b") || in("y", t)) && (!t.is("y/a") || in("z", f))),
        new NetpolScenario(
            "policyTypes [Ingress, Egress] without egress rules denies all egress",
            policy(
                "x",
                "a-ingress-only-rules",
                "podSelector: {matchLabels: {pod: a}}\npolicyTypes: [Ingress, Egress]\ningress:\n- {}"),
            (f, t, p) -> !f.is("x/a")),
        new NetpolScenario(
            "policyTypes default to Ingress and Egress when egress rules are present",
            policy(
                "x",
                "a-defaulted",
                "podSelector: {matchLabels: {pod: a}}\negress:\n- to:\n  - podSelector: {matchLabels: {pod: b}}"),
            (f, t, p) -> !t.is("x/a") && (!f.is("x/a") || t.is("x/b"))),
        new NetpolScenario(
            "policyTypes [Egress] leaves ingress open",
            policy(
                "x",
                "a-egress-to-y",
                """
                podSelector: {matchLabels: {pod: a}}
                policyTypes: [Egress]
                egress:
                - to:
                  - namespaceSelector: {matchLabels: {ns: y}}"""),
            (f, t, p) -> !f.is("x/a") || in("y", t)),
        new NetpolScenario(
            "an empty podSelector selects every pod of its namespace only",
            policy(
                "y",
                "all-from-x",
                "podSelector: {}\ningress:\n- from:\n  - namespaceSelector: {matchLabels: {ns: x}}"),
            (f, t, p) -> !in("y", t) || in("x", f)),
        new NetpolScenario(
            "replies are allowed: y denies all ingress, y's pods still connect out",
            policy("y", "deny-ingress", "podSelector: {}\npolicyTypes: [Ingress]"),
            (f, t, p) -> !in("y", t)));
  }
}
