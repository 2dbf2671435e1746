import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decideAddress, decideName } from '../src/egress/decide.js';
import { normalizeHostName } from '../src/egress/host-name.js';
import { parseAllowPolicy } from '../src/egress/parse-policy.js';

// Property tests: hand-picked tables miss the suffix and label-boundary cases these generate.
// No `??--` labels: those are IDNA A-labels (`xn--…`), and a random one is not valid punycode.
const label = fc.stringMatching(/^[a-z][a-z0-9-]{0,10}[a-z0-9]$/).filter((text) => text.slice(2, 4) !== '--');
const labels = (min: number, max: number) => fc.array(label, { minLength: min, maxLength: max });
/** A suffix the public suffix list does not know: two labels under the reserved `.test`. */
const suffix = labels(1, 3).map((parts) => [...parts, 'test'].join('.'));
const port = fc.integer({ min: 1, max: 65535 });

describe('egress properties', () => {
  it('*.s matches exactly the names ending in .s with at least one more label', () => {
    fc.assert(
      fc.property(suffix, labels(0, 4), suffix, (s, prefix, other) => {
        const policy = parseAllowPolicy({ mode: 'allow', allow: [`*.${s}:1-65535`] });
        const below = [...prefix, s].join('.');
        expect(decideName(policy, below, 443).allowed).toBe(prefix.length > 0);
        const expected = other.endsWith(`.${s}`);
        expect(decideName(policy, other, 443).allowed).toBe(expected);
      }),
    );
  });

  it('a name glued onto a rule without a dot boundary never matches it', () => {
    fc.assert(
      fc.property(suffix, label, (s, glue) => {
        const policy = parseAllowPolicy({ mode: 'allow', allow: [s, `*.${s}`] });
        expect(decideName(policy, `${glue}${s}`, 443).allowed).toBe(false);
        expect(decideName(policy, `${s}.${glue}`, 443).allowed).toBe(false);
      }),
    );
  });

  it('normalizeHostName is idempotent and case- and trailing-dot-insensitive', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          labels(1, 5).map((parts) => parts.join('.')),
          fc.string({ maxLength: 40 }),
        ),
        (name) => {
          const once = normalizeHostName(name);
          if (once === undefined) return;
          expect(normalizeHostName(once)).toBe(once);
          // One trailing dot is the root; a second would be an empty label.
          if (!name.endsWith('.'))
            expect(normalizeHostName(`${name.toUpperCase()}.`)).toBe(normalizeHostName(name.toUpperCase()));
        },
      ),
    );
  });

  it('a name no rule names is denied, whatever the port', () => {
    fc.assert(
      fc.property(fc.uniqueArray(suffix, { minLength: 2, maxLength: 6 }), port, (names, p) => {
        const [outsider, ...listed] = names as [string, ...string[]];
        fc.pre(!listed.some((name) => outsider.endsWith(`.${name}`)));
        const policy = parseAllowPolicy({ mode: 'allow', allow: [...listed, ...listed.map((n) => `*.${n}:1-65535`)] });
        expect(decideName(policy, outsider, p).allowed).toBe(false);
      }),
    );
  });

  it('an IPv4 CIDR rule decides an address and its IPv4-mapped form alike', () => {
    fc.assert(
      fc.property(fc.ipV4(), fc.integer({ min: 8, max: 32 }), fc.ipV4(), port, (base, prefix, probe, p) => {
        const bits = base.split('.').reduce((acc, part) => acc * 256 + Number(part), 0);
        const network = Math.floor(bits / 2 ** (32 - prefix)) * 2 ** (32 - prefix);
        const text = [24, 16, 8, 0].map((shift) => Math.floor(network / 2 ** shift) % 256).join('.');
        const policy = parseAllowPolicy({ mode: 'allow', allow: [`${text}/${prefix}:${p}`] });
        const probeBits = probe.split('.').reduce((acc, part) => acc * 256 + Number(part), 0);
        const inside = Math.floor(probeBits / 2 ** (32 - prefix)) * 2 ** (32 - prefix) === network;
        expect(decideAddress(policy, probe, p).allowed).toBe(inside);
        expect(decideAddress(policy, `::ffff:${probe}`, p).allowed).toBe(inside);
      }),
    );
  });
});
