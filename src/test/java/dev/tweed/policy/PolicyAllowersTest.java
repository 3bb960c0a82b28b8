package dev.tweed.policy;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tweed.policy.PolicyAllowers.Allower;
import org.junit.jupiter.api.Test;

/**
 * Which rule let a connection through, over the policy golden tests' cluster (node-1 local):
 * x/web-1 10.244.0.2 (http 8080) behind web-ingress, web-egress and deny-all; x/monitor 10.244.0.3;
 * y/client 10.244.0.67; z/db 10.244.0.4 (sql 3306).
 */
class PolicyAllowersTest {
  static PolicyAllowers allowers() throws Exception {
    return new PolicyAllowers(PolicyFixtures.intent());
  }

  @Test
  void aSelectedPeerOnANamedPortIsAllowedByThatRule() throws Exception {
    assertThat(allowers().allowers(true, "10.244.0.67", "10.244.0.2", "TCP", 8080))
        .containsExactly(new Allower("x/web-ingress", true, 0));
    assertThat(allowers().allowers(true, "10.244.0.3", "10.244.0.2", "TCP", 8050))
        .containsExactly(new Allower("x/web-ingress", true, 0));
  }

  @Test
  void anIpBlockRuleAllowsInsideItsRangeButNotItsExceptions() throws Exception {
    assertThat(allowers().allowers(true, "192.168.7.7", "10.244.0.2", "UDP", 53))
        .containsExactly(new Allower("x/web-ingress", true, 1));
    assertThat(allowers().allowers(true, "192.168.1.7", "10.244.0.2", "UDP", 53)).isEmpty();
  }

  @Test
  void egressIsJudgedForTheSourceAndNamedPortsOnTheDestination() throws Exception {
    assertThat(allowers().allowers(false, "10.244.0.2", "10.244.0.4", "TCP", 3306))
        .containsExactly(new Allower("x/web-egress", false, 0));
    assertThat(allowers().allowers(false, "10.244.0.2", "10.244.0.4", "TCP", 5432)).isEmpty();
    assertThat(allowers().allowers(false, "10.244.0.2", "8.8.8.8", "UDP", 53))
        .containsExactly(new Allower("x/web-egress", false, 1));
  }

  @Test
  void aPodNotIsolatedOrNotLocalHasNoAllowers() throws Exception {
    // z/db is local but no policy isolates it; y/client is on another node.
    assertThat(allowers().allowers(true, "10.244.0.2", "10.244.0.4", "TCP", 3306)).isEmpty();
    assertThat(allowers().allowers(false, "10.244.0.67", "10.244.0.2", "TCP", 8080)).isEmpty();
  }
}
