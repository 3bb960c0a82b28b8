package dev.tweed.cli;

import dev.tweed.datastore.Datastore;
import dev.tweed.lab.EndpointSliceController;
import dev.tweed.lab.LabLayout;
import dev.tweed.lab.LabState;
import dev.tweed.lab.LabStores;
import dev.tweed.lab.LoadBalancerRouteController;
import dev.tweed.lab.NodeLifecycleController;
import dev.tweed.lab.PodController;
import dev.tweed.model.IpFamilies;
import java.time.Duration;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

/** Runs the lab's controllers (scheduler, pod lifecycle, probe servers); started by lab up. */
@Command(name = "lab-controller", hidden = true, description = "Run the lab's controllers.")
public final class LabControllerCommand implements Callable<Integer> {
  @Mixin LabOption lab;

  @picocli.CommandLine.Option(
      names = "--lab-marker",
      hidden = true,
      description = "Tags the process for lab down.")
  String labMarker;

  @picocli.CommandLine.Option(
      names = "--node-grace",
      defaultValue = "3000",
      description = "Milliseconds an agent may stay silent before its node is NotReady.")
  long nodeGraceMillis;

  @Override
  public Integer call() {
    LabLayout layout = lab.layout();
    Datastore store = LabStores.open(layout);
    PodController controller =
        new PodController(
            layout,
            store,
            LabState.read(layout).map(st -> st.spec().ipFamilies()).orElse(IpFamilies.IPV4));
    EndpointSliceController slices = new EndpointSliceController(store);
    LoadBalancerRouteController loadBalancers = new LoadBalancerRouteController(layout, store);
    NodeLifecycleController nodes =
        new NodeLifecycleController(layout, store, Duration.ofMillis(nodeGraceMillis));
    Runtime.getRuntime()
        .addShutdownHook(
            new Thread(
                () -> {
                  slices.stop();
                  nodes.stop();
                  loadBalancers.stop();
                  controller.close();
                }));
    Thread.ofPlatform().name("endpointslices").start(slices::run);
    Thread.ofPlatform().name("loadbalancers").start(loadBalancers::run);
    Thread.ofPlatform().name("node-lifecycle").start(nodes::run);
    controller.run();
    return 0;
  }
}
