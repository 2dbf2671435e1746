import { LABELS } from '@cordon/core/backend';
import type { V1Pod } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { isReapable } from '../src/reaper.js';

const now = Date.parse('2026-01-01T12:00:00Z');

function pod(
  owner: string,
  phase: string,
  extra: { expiresAt?: string; finishedAt?: Date; deleting?: boolean } = {},
): V1Pod {
  return {
    metadata: {
      name: 'p',
      labels: { [LABELS.owner]: owner },
      annotations: extra.expiresAt ? { 'cordon.dev/expires-at': extra.expiresAt } : {},
      ...(extra.deleting ? { deletionTimestamp: new Date(now) } : {}),
    },
    status: {
      phase,
      containerStatuses: extra.finishedAt
        ? [
            {
              name: 'sandbox',
              image: 'i',
              imageID: '',
              ready: false,
              restartCount: 0,
              state: { terminated: { exitCode: 0, finishedAt: extra.finishedAt } },
            },
          ]
        : [],
    },
  };
}

describe('isReapable', () => {
  it("never reaps this owner's pods", () => {
    expect(isReapable(pod('mine', 'Failed', { expiresAt: '2020-01-01T00:00:00Z' }), now, 'mine')).toBe(false);
  });

  it("reaps another owner's expired pods, running or not", () => {
    expect(isReapable(pod('old', 'Running', { expiresAt: '2026-01-01T11:59:00Z' }), now, 'mine')).toBe(true);
  });

  it("leaves another owner's live running pods alone", () => {
    expect(isReapable(pod('live', 'Running', { expiresAt: '2026-01-01T12:05:00Z' }), now, 'mine')).toBe(false);
  });

  it('reaps finished pods after a grace minute for their owner', () => {
    expect(
      isReapable(
        pod('other', 'Succeeded', { expiresAt: '2026-01-01T12:05:00Z', finishedAt: new Date(now - 10_000) }),
        now,
        'mine',
      ),
    ).toBe(false);
    expect(
      isReapable(
        pod('other', 'Failed', { expiresAt: '2026-01-01T12:05:00Z', finishedAt: new Date(now - 120_000) }),
        now,
        'mine',
      ),
    ).toBe(true);
  });

  it('skips pods already being deleted', () => {
    expect(isReapable(pod('old', 'Running', { expiresAt: '2020-01-01T00:00:00Z', deleting: true }), now, 'mine')).toBe(
      false,
    );
  });
});
