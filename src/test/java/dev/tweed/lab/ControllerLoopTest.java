package dev.tweed.lab;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tweed.datastore.JournalBackedDouble;
import dev.tweed.datastore.JournalDatastore;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ControllerLoopTest {
  @TempDir Path dir;

  /**
   * A journal that does not answer its first questions about revisions, as an etcd cluster still
   * electing its leader when a lab's controller starts: a double for what a journal never does.
   */
  static final class StoreNotAnsweringAtFirst extends JournalBackedDouble {
    final AtomicInteger refusals;
    final AtomicInteger answered = new AtomicInteger();

    StoreNotAnsweringAtFirst(JournalDatastore journal, int refusals) {
      super(journal);
      this.refusals = new AtomicInteger(refusals);
    }

    @Override
    public long currentRevision() {
      if (refusals.getAndDecrement() > 0) {
        throw new IllegalStateException("etcd: no leader");
      }
      answered.incrementAndGet();
      return journal.currentRevision();
    }

    int currentRevisionCallsAnswered() {
      return answered.get();
    }
  }

  @Test
  void aStoreThatDoesNotAnswerAtFirstDelaysTheWatchNotTheController() throws Exception {
    try (JournalDatastore journal = new JournalDatastore(dir)) {
      StoreNotAnsweringAtFirst store = new StoreNotAnsweringAtFirst(journal, 2);
      Semaphore passes = new Semaphore(0);
      ControllerLoop loop = new ControllerLoop("test", store, List.of("Pod/"), passes::release);
      Thread t = Thread.ofPlatform().name("controller-loop-test").start(loop::run);
      try {
        // Passes go on, once a second, while the store does not answer.
        assertThat(passes.tryAcquire(3, 5, TimeUnit.SECONDS)).isTrue();
        assertThat(t.isAlive()).isTrue();
        // And the watch was set up once the store answered.
        assertThat(store.currentRevisionCallsAnswered()).isPositive();
      } finally {
        loop.stop();
        t.join(5000);
      }
    }
  }
}
