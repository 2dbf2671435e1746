/**
 * Synthetic IPv4 addresses the broker's DNS hands out for listed names, from
 * 198.18.0.0/15 (benchmarking space: never a real destination, and in the deny
 * set, so a raw dial to one is judged only through this table). Stable per name
 * within a session.
 */
const BASE = (198 << 24) | (18 << 16);
/** 198.18.0.1 … 198.19.255.254. */
const SIZE = 2 ** 17 - 2;

export class SyntheticAddresses {
  readonly #byName = new Map<string, string>();
  readonly #byAddress = new Map<string, string>();

  /** The address for `name`, allocating one; undefined when the range is exhausted. */
  addressFor(name: string): string | undefined {
    const known = this.#byName.get(name);
    if (known) return known;
    if (this.#byName.size >= SIZE) return undefined;
    const value = (BASE + this.#byName.size + 1) >>> 0;
    const address = [value >>> 24, (value >>> 16) & 255, (value >>> 8) & 255, value & 255].join('.');
    this.#byName.set(name, address);
    this.#byAddress.set(address, name);
    return address;
  }

  /** The name `address` was handed out for, if the session's DNS handed it out. */
  nameFor(address: string): string | undefined {
    return this.#byAddress.get(address.startsWith('::ffff:') ? address.slice(7) : address);
  }
}
