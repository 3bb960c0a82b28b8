package dev.tweed.dataplane;

import dev.tweed.model.FdbEntry;
import dev.tweed.model.Neighbor;
import dev.tweed.model.Route;
import java.util.Collection;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

/** What must be added and removed to turn the actual state into the desired one. */
public record DataplaneDiff(
    List<Route> addRoutes,
    List<Route> delRoutes,
    List<Neighbor> addNeighbors,
    List<Neighbor> delNeighbors,
    List<FdbEntry> addFdb,
    List<FdbEntry> delFdb) {

  /** Nothing to change. */
  public static final DataplaneDiff NONE =
      new DataplaneDiff(List.of(), List.of(), List.of(), List.of(), List.of(), List.of());

  public static DataplaneDiff between(
      Set<Route> wantRoutes,
      Collection<Route> haveRoutes,
      Set<Neighbor> wantNeigh,
      Collection<Neighbor> haveNeigh,
      Set<FdbEntry> wantFdb,
      Collection<FdbEntry> haveFdb) {
    return new DataplaneDiff(
        minus(wantRoutes, haveRoutes),
        minus(haveRoutes, wantRoutes),
        minus(wantNeigh, haveNeigh),
        minus(haveNeigh, wantNeigh),
        minus(wantFdb, haveFdb),
        minus(haveFdb, wantFdb));
  }

  private static <T extends Comparable<T>> List<T> minus(Collection<T> a, Collection<T> b) {
    TreeSet<T> s = new TreeSet<>(a);
    s.removeAll(new TreeSet<>(b));
    return List.copyOf(s);
  }

  public boolean isEmpty() {
    return addRoutes.isEmpty()
        && delRoutes.isEmpty()
        && addNeighbors.isEmpty()
        && delNeighbors.isEmpty()
        && addFdb.isEmpty()
        && delFdb.isEmpty();
  }

  public int size() {
    return addRoutes.size()
        + delRoutes.size()
        + addNeighbors.size()
        + delNeighbors.size()
        + addFdb.size()
        + delFdb.size();
  }
}
