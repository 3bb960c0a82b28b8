package dev.tweed.trace.verify;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/** A {@link JourneyCheck.Result} told in words or as the {@code verify} object of the JSON. */
public final class VerifyReport {
  private VerifyReport() {}

  public static ObjectNode toJson(JourneyCheck.Result r) {
    ObjectNode o = JsonNodeFactory.instance.objectNode();
    o.put("agree", r.agree());
    o.put("branch", r.branch() + 1);
    o.put("modelVerdict", r.modelVerdict());
    o.put("kernelVerdict", r.kernelVerdict());
    o.set("kernelPath", steps(r.kernel()));
    o.set("kernelPrograms", runs(r.kernelPrograms()));
    ArrayNode d = o.putArray("differences");
    r.differences().forEach(d::add);
    ArrayNode n = o.putArray("notes");
    r.notes().forEach(n::add);
    r.reply()
        .ifPresent(
            back -> {
              ObjectNode b = o.putObject("reply");
              b.set("kernelPath", steps(back.kernel()));
              b.set("kernelPrograms", runs(back.kernelPrograms()));
            });
    return o;
  }

  private static ArrayNode runs(Map<String, List<ProgramStep>> runs) {
    ArrayNode a = JsonNodeFactory.instance.arrayNode();
    runs.values().stream()
        .flatMap(List::stream)
        .forEach(
            s ->
                a.addObject()
                    .put("netns", s.netns())
                    .put("program", s.program())
                    .put("device", s.device())
                    .put("action", s.action())
                    .put("packet", s.packet()));
    return a;
  }

  private static void textRuns(
      StringBuilder sb, Map<String, List<ProgramStep>> runs, Function<String, String> label) {
    for (List<ProgramStep> steps : runs.values()) {
      for (ProgramStep s : steps) {
        sb.append(String.format("     %-10s bpf %s%n", label.apply(s.netns()), s));
      }
    }
  }

  private static ArrayNode steps(Map<String, List<PathStep>> path) {
    ArrayNode a = JsonNodeFactory.instance.arrayNode();
    path.values().stream()
        .flatMap(List::stream)
        .forEach(
            s ->
                a.addObject()
                    .put("netns", s.netns())
                    .put("table", s.table())
                    .put("chain", s.chain())
                    .put("position", s.position())
                    .put("rule", s.rule())
                    .put("verdict", s.outcome()));
    return a;
  }

  public static String toText(JourneyCheck.Result r, Function<String, String> label) {
    StringBuilder sb =
        new StringBuilder("\nverify: the packet sent for real, traced by the kernel:\n");
    for (List<PathStep> steps : r.kernel().values()) {
      for (PathStep s : steps) {
        sb.append(
            String.format(
                "     %-10s %s: %s (verdict %s)%n",
                label.apply(s.netns()), s.where(), s.rule(), s.outcome()));
      }
    }
    textRuns(sb, r.kernelPrograms(), label);
    sb.append("     sender saw: ").append(r.kernelVerdict()).append('\n');
    r.reply()
        .ifPresent(
            back -> {
              sb.append("     and the reply, back:\n");
              for (List<PathStep> steps : back.kernel().values()) {
                for (PathStep s : steps) {
                  sb.append(
                      String.format(
                          "     %-10s %s: %s (verdict %s)%n",
                          label.apply(s.netns()), s.where(), s.rule(), s.outcome()));
                }
              }
              textRuns(sb, back.kernelPrograms(), label);
            });
    r.notes().forEach(n -> sb.append("     note: ").append(n).append('\n'));
    if (r.agree()) {
      sb.append(
          String.format(
              "verify: the kernel agrees (branch %d): the same %d rule%s in %d namespace%s%s,"
                  + " verdict %s%s%n",
              r.branch() + 1,
              r.rules(),
              r.rules() == 1 ? "" : "s",
              r.model().size(),
              r.model().size() == 1 ? "" : "s",
              r.programs() == 0
                  ? ""
                  : ", the same " + r.programs() + " program run" + (r.programs() == 1 ? "" : "s"),
              r.kernelVerdict(),
              r.reply()
                  .map(
                      b ->
                          "; the reply too ("
                              + b.rules()
                              + " rules"
                              + (b.programs() == 0 ? "" : ", " + b.programs() + " program runs")
                              + ")")
                  .orElse("")));
    } else {
      sb.append("verify: the kernel differs from the model (branch ")
          .append(r.branch() + 1)
          .append("):\n");
      r.differences().forEach(d -> sb.append("  - ").append(d).append('\n'));
    }
    return sb.toString();
  }
}
