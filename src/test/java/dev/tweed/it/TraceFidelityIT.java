package dev.tweed.it;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tweed.lab.Lab;
import dev.tweed.lab.LabLayout;
import dev.tweed.lab.RandomLabResources;
import dev.tweed.lab.TraceFidelity;
import dev.tweed.model.IpFamily;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The model against the kernel on 480 random flows over random labs (topology, pods, Services,
 * NetworkPolicies from a seed; the service proxy and policy in iptables or nftables, or the eBPF
 * datapath; IPv4, or dual-stack with flows of both families): for every flow, the rules the
 * kernel's nftables trace shows matched, namespace by namespace, the runs Tweed's tc programs
 * report, and the verdict the sender saw, must be the model's, and for every delivered flow its
 * reply's too. Volume is the benchmark's ({@code tweed bench trace}): here, enough flows per lab to
 * cover every verdict.
 */
class TraceFidelityIT {

  @ParameterizedTest(name = "seed {0}, {1} nodes, {2}, {3}")
  @CsvSource({
    "11, 3, iptables, dual, 130",
    "12, 2, nftables, ipv4, 110",
    "13, 3, nftables, dual, 110",
    "14, 3, ebpf, dual, 130"
  })
  void everyFlowTakesTheModelsPathAndVerdict(
      long seed, int nodes, String mode, String ipFamily, int flows) throws Exception {
    boolean ebpf = mode.equals("ebpf");
    Tweed tweed = Tweed.newLab("fid" + seed);
    Path yaml = Files.createTempFile("random-lab", ".yaml");
    try {
      boolean dual = ipFamily.equals("dual");
      Files.writeString(yaml, RandomLabResources.yaml(seed, nodes, dual));
      tweed.ok(
          "lab",
          "up",
          "--nodes",
          String.valueOf(nodes),
          ebpf ? "--dataplane" : "--proxy",
          ebpf ? "ebpf" : mode,
          "--ip-family",
          ipFamily,
          "-f",
          yaml.toString());
      Lab lab = new Lab(LabLayout.of(tweed.lab()), System.out);
      TraceFidelity.settle(lab, nodes);
      TraceFidelity.Report r = TraceFidelity.run(lab, seed, flows, System.out);
      System.out.printf("seed %d: %s%n", seed, r.summary());
      r.replyDisagreements().forEach(d -> System.out.println("reply differs: " + d));
      if (dual) {
        assertThat(r.families()).as("flows of each family").containsOnlyKeys(IpFamily.values());
      }
      assertThat(r.disagreements()).as("flows where model and kernel differ").isEmpty();
      assertThat(r.replyDisagreements())
          .as("delivered flows whose reply differs from the model's")
          .isEmpty();
      if (ebpf) {
        assertThat(r.programRuns()).as("program runs compared").isGreaterThan(r.flows());
      }
      assertThat(r.verdicts().keySet())
          .as("the sample covers every verdict")
          .contains("delivered", "rejected", "dropped");
    } finally {
      Files.deleteIfExists(yaml);
      tweed.ok("lab", "down");
      assertThat(tweed.namespaces()).isEmpty();
    }
  }
}
