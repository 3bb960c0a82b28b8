package dev.tweed.lab;

/**
 * One network-policy conformance case: the policies to apply (YAML, with {@code ${NS/POD}} standing
 * for a pod's address) and, independently of any implementation, which connections the policy
 * semantics allow.
 */
public record NetpolScenario(String name, String policies, Allowed allowed) {
  /** A lab pod of the model: namespace x, y or z; name a, b or c. */
  public record Pod(String ns, String name) {
    public boolean is(String ref) {
      return ref.equals(ns + "/" + name);
    }

    @Override
    public String toString() {
      return ns + "/" + name;
    }
  }

  /** A probed destination port. */
  public record Port(String proto, int number) {
    public boolean is(String proto, int number) {
      return this.proto.equals(proto) && this.number == number;
    }
  }

  /** The expected verdict of one connection (not consulted for a pod to itself). */
  @FunctionalInterface
  public interface Allowed {
    boolean test(Pod from, Pod to, Port port);
  }
}
