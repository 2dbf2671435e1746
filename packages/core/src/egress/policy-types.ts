/**
 * The egress allow-list as backends and the broker receive it: rules already
 * parsed, normalised and validated (see parseAllowPolicy).
 */

/** Inclusive. A bare name allows 443 and 80. */
export interface PortRange {
  readonly from: number;
  readonly to: number;
}

/** One rule as the caller may write it. */
export type EgressRuleInput = string | { readonly host: string; readonly ports?: readonly (number | string)[] };

export type EgressRule =
  /** `api.stripe.com`: that name only (normalised: lower case, no trailing dot, IDNA A-label). */
  | { readonly kind: 'name'; readonly name: string; readonly ports: readonly PortRange[]; readonly source: string }
  /** `*.googleapis.com`: any name strictly below `suffix`, at any depth; never `suffix` itself. */
  | {
      readonly kind: 'wildcard';
      readonly suffix: string;
      readonly ports: readonly PortRange[];
      readonly source: string;
    }
  /** `10.0.0.0/8:5432`, `2001:db8::/32`: addresses in the range (a bare address is a /32 or /128). */
  | { readonly kind: 'cidr'; readonly cidr: string; readonly ports: readonly PortRange[]; readonly source: string };

/** Per-execution bounds the broker enforces, so it cannot be turned against the host. */
export interface EgressCaps {
  /** Connections (proxy, SOCKS and captured) open at once. */
  readonly maxOpenConnections: number;
  /** Connections over the whole execution. */
  readonly maxConnections: number;
  /** Bytes up plus down over the whole execution. */
  readonly maxBytes: number;
  /** One connection's lifetime. */
  readonly maxConnectionMs: number;
  /** DNS queries over the whole execution. */
  readonly maxDnsQueries: number;
}

/**
 * Test-only, exhaustive: when set, the broker consults no resolver at all; each
 * listed name goes to exactly this address (and port, if given, whatever port was
 * asked), and only these addresses may pass the deny set. Conformance maps its
 * test names to local canaries this way.
 */
export type EgressResolveOverride = ReadonlyMap<
  string,
  {
    readonly address: string;
    readonly port?: number;
    /** Judge the address by the deny set like a resolved one (a canary entry passes it). */
    readonly denySet?: 'apply';
  }
>;

export interface AllowNetworkPolicy {
  readonly mode: 'allow';
  readonly rules: readonly EgressRule[];
  readonly auditLimit: number;
  readonly caps: EgressCaps;
  readonly resolve?: EgressResolveOverride;
}

/** The answer for one attempt: the rule that allowed it, or why nothing did. */
export type EgressDecision =
  { readonly allowed: true; readonly rule: string } | { readonly allowed: false; readonly reason: string };
