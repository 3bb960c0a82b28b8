package dev.tweed;

import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;

import com.tngtech.archunit.base.DescribedPredicate;
import com.tngtech.archunit.core.domain.JavaClass;
import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import com.tngtech.archunit.lang.ArchRule;
import com.tngtech.archunit.library.Architectures;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The packages' layering, as the architecture page draws it: the pipeline model → datastore → calc
 * (with the policy, proxy and eBPF calculators) → dataplane drivers → agent → cni/lab → cli/web. A
 * package may use any layer below its own and none above; no packages import each other in a loop.
 * A new upward import fails here, with the classes that make it.
 */
class LayeringTest {
  /** Bottom to top; each layer's packages (ArchUnit's package notation). */
  static final List<Layer> LAYERS =
      List.of(
          new Layer("model", "dev.tweed.model.."),
          new Layer("sys", "dev.tweed.sys.."),
          new Layer("kernel model", "dev.tweed.kernel.."),
          new Layer("rules", "dev.tweed.rules.."),
          new Layer("datastore", "dev.tweed.datastore", "dev.tweed.datastore.kubernetes.."),
          new Layer("datastore backends", "dev.tweed.datastore.backends.."),
          new Layer("ipam", "dev.tweed.ipam.."),
          new Layer("calc", "dev.tweed.calc..", "dev.tweed.policy..", "dev.tweed.proxy.."),
          new Layer("ebpf", "dev.tweed.ebpf.."),
          new Layer("dataplane", "dev.tweed.dataplane.."),
          new Layer("observe", "dev.tweed.observe.."),
          new Layer("trace", "dev.tweed.trace.."),
          new Layer("agent", "dev.tweed.agent.."),
          new Layer("cni", "dev.tweed.cni.."),
          new Layer("lab", "dev.tweed.lab", "dev.tweed.lab.chaos..", "dev.tweed.lab.service.."),
          new Layer("web", "dev.tweed.lab.web.."),
          new Layer("bench", "dev.tweed.bench.."),
          new Layer("cli", "dev.tweed.cli.."));

  record Layer(String name, String... packages) {}

  static JavaClasses classes;

  @BeforeAll
  static void importClasses() {
    classes =
        new ClassFileImporter()
            .withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
            // JMH generates benchmark classes into the bench package; they are not ours.
            .withImportOption(location -> !location.contains("/jmh_generated/"))
            .importPackages("dev.tweed");
  }

  @Test
  void noPackageImportsALayerAboveItsOwn() {
    Architectures.LayeredArchitecture arch =
        Architectures.layeredArchitecture().consideringOnlyDependenciesInLayers();
    for (Layer l : LAYERS) {
      arch = arch.layer(l.name()).definedBy(l.packages());
    }
    for (int i = 0; i < LAYERS.size() - 1; i++) {
      List<String> above = LAYERS.subList(i + 1, LAYERS.size()).stream().map(Layer::name).toList();
      // A layer is reached only from above: whatever sits higher may use it, nothing lower.
      arch =
          arch.whereLayer(LAYERS.get(i).name())
              .mayOnlyBeAccessedByLayers(above.toArray(String[]::new));
    }
    arch.check(classes);
  }

  @Test
  void noPackagesImportEachOtherInALoop() {
    ArchRule rule =
        slices()
            .matching("dev.tweed.(**)")
            .should()
            .beFreeOfCycles()
            .ignoreDependency(generatedBenchmarks(), DescribedPredicate.alwaysTrue());
    rule.check(classes);
  }

  private static DescribedPredicate<JavaClass> generatedBenchmarks() {
    return DescribedPredicate.describe(
        "JMH's generated classes", c -> c.getPackageName().contains("jmh_generated"));
  }
}
