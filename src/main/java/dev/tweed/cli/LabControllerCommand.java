package dev.tweed.cli;

import dev.tweed.datastore.JournalDatastore;
import dev.tweed.lab.EndpointSliceController;
import dev.tweed.lab.LabLayout;
import dev.tweed.lab.LoadBalancerRouteController;
import dev.tweed.lab.PodController;
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

  @Override
  public Integer call() {
    LabLayout layout = lab.layout();
    JournalDatastore store = new JournalDatastore(layout.storeDir());
    PodController controller = new PodController(layout, store);
    EndpointSliceController slices = new EndpointSliceController(store);
    LoadBalancerRouteController loadBalancers = new LoadBalancerRouteController(layout, store);
    Runtime.getRuntime()
        .addShutdownHook(
            new Thread(
                () -> {
                  slices.stop();
                  loadBalancers.stop();
                  controller.close();
                }));
    Thread.ofPlatform().name("endpointslices").start(slices::run);
    Thread.ofPlatform().name("loadbalancers").start(loadBalancers::run);
    controller.run();
    return 0;
  }
}
