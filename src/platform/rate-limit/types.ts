/** One limit of a multi-rule check: at most `limit` units per sliding `windowMs` under `key`. */
export interface RateRule {
  /** A fixed, low-cardinality name (`user`, `client_ip`, `product_hour`): the metric label and `details.rule`. */
  name: string;
  /** Who is counted, e.g. `redeem:{t1}:user:u42`. Rules with different windows never share a count. */
  key: string;
  /** Units allowed per window; 0 refuses everything. */
  limit: number;
  windowMs: number;
  /**
   * Checked like the others, never charged: a condition the call must pass without counting
   * towards it (the lock-out's failure count, checked in the same atomic step as the limits).
   */
  peek?: boolean;
}

export interface LimitResult {
  allowed: boolean;
  /** Units still free in the tightest rule after this call (0 when refused and full). */
  remaining: number;
  /**
   * When refused: how long until every refusing rule would take this cost again (the longest of
   * their waits; 0 when allowed). A cost above a rule's limit never fits: its wait is the window.
   */
  retryAfterMs: number;
  /** The refusing rule with the longest wait, or null when allowed. */
  rule: string | null;
}

export interface LockoutState {
  locked: boolean;
  /** How long until one more attempt is allowed (0 when not locked). */
  retryAfterMs: number;
}

/** The three operations a store runs atomically over a set of rules. */
export type StoreMode =
  /** Charge `cost` to every rule if all of them have room, else charge nothing. */
  | 'hit'
  /** Charge `cost` to every rule unconditionally, then report as `peek`. */
  | 'add'
  /** Report whether `cost` would fit in every rule, charging nothing. */
  | 'peek';

/** A counting backend: Redis (shared by every process) or in-process. Same semantics. */
export interface LimitStore {
  run(mode: StoreMode, rules: readonly RateRule[], cost: number): Promise<LimitResult>;
}
