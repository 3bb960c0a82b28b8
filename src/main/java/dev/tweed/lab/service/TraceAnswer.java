package dev.tweed.lab.service;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tweed.trace.JourneyReport;
import dev.tweed.trace.verify.JourneyCheck;
import dev.tweed.trace.verify.VerifyReport;
import java.util.Optional;
import java.util.function.Function;

/**
 * A journey as the model computed it and, when asked for, the kernel's verdict on it. {@code
 * labels} names a network namespace as users know it (a pod, a node).
 */
public record TraceAnswer(
    JourneyReport report, Optional<JourneyCheck.Result> check, Function<String, String> labels) {

  /** The model and the kernel agree, or the kernel was not asked. */
  public boolean agrees() {
    return check.map(JourneyCheck.Result::agree).orElse(true);
  }

  public ObjectNode toJson() {
    ObjectNode j = report.toJson();
    check.ifPresent(c -> j.set("verify", VerifyReport.toJson(c)));
    return j;
  }

  public String toText() {
    return report.toText() + check.map(c -> VerifyReport.toText(c, labels)).orElse("");
  }
}
