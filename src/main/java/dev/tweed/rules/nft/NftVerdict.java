package dev.tweed.rules.nft;

import java.util.Optional;

/** A verdict: of a rule, or of a verdict map's element. */
public record NftVerdict(Kind kind, Optional<String> chain) {
  /** What happens to the packet. */
  public enum Kind {
    ACCEPT,
    DROP,
    RETURN,
    JUMP,
    GOTO
  }

  public NftVerdict {
    if ((kind == Kind.JUMP || kind == Kind.GOTO) != chain.isPresent()) {
      throw new IllegalArgumentException(kind + " with chain " + chain);
    }
  }

  public static NftVerdict jump(String chain) {
    return new NftVerdict(Kind.JUMP, Optional.of(chain));
  }

  public static NftVerdict goTo(String chain) {
    return new NftVerdict(Kind.GOTO, Optional.of(chain));
  }

  public static final NftVerdict ACCEPT = new NftVerdict(Kind.ACCEPT, Optional.empty());
  public static final NftVerdict DROP = new NftVerdict(Kind.DROP, Optional.empty());
  public static final NftVerdict RETURN = new NftVerdict(Kind.RETURN, Optional.empty());

  public String script() {
    return switch (kind) {
      case ACCEPT -> "accept";
      case DROP -> "drop";
      case RETURN -> "return";
      case JUMP -> "jump " + chain.orElseThrow();
      case GOTO -> "goto " + chain.orElseThrow();
    };
  }
}
