package dev.tweed.lab;

import dev.tweed.datastore.Datastore;
import dev.tweed.datastore.DatastoreSpec;
import dev.tweed.datastore.EtcdDatastore;
import dev.tweed.datastore.JournalDatastore;
import dev.tweed.sys.NetworkNamespace;
import java.util.Map;
import java.util.Optional;

/**
 * Opens the datastore a lab keeps its state in, for processes in the host's namespace (the CLI, the
 * lab controller): the journal on disk, or the lab's etcd cluster reached from inside the router's
 * namespace, since the host has no route to the lab, as the controller's etcd user.
 */
public final class LabStores {
  private LabStores() {}

  public static Datastore open(LabLayout layout) {
    return open(layout, LabState.read(layout).orElse(new LabState(LabSpec.of(1), Map.of())));
  }

  public static Datastore open(LabLayout layout, LabState state) {
    if (!state.spec().etcd()) {
      return new JournalDatastore(layout.storeDir());
    }
    return etcdAs(layout, state, EtcdPki.CONTROLLER);
  }

  /** The lab's etcd as one of its users ({@link EtcdPki}'s names), with that user's certificate. */
  public static EtcdDatastore etcdAs(LabLayout layout, LabState state, String user) {
    return EtcdDatastore.connect(
        EtcdCluster.ofLab(layout, state.spec().etcdMembers()).clientUrls(),
        Optional.of(NetworkNamespace.pathOf(layout.routerNs())),
        DatastoreSpec.TIMEOUT,
        Optional.of(EtcdPki.of(layout).client(user)));
  }
}
