import { describe, expect, it } from 'vitest';
import { planCollection, type ListedEntry } from '../src/collection-plan.js';
import { RunnerChannel } from '../src/runner-channel.js';
import { quoteNameBytes } from '../src/name-bytes.js';
import { RunnerCollection } from '../src/runner-collection.js';
import { encodeRecord, MAX_RECORD_PAYLOAD_BYTES, RecordReader } from '../src/runner-records.js';

// The host's side of the runner's socket, without a sandbox: every byte it buffers is
// bounded, and anything out of order is a violation (the run then fails closed).
const u64 = (value: number) => {
  const buffer = Buffer.alloc(8);
  buffer.writeBigUInt64BE(BigInt(value));
  return buffer;
};
const listed = (path: string | Buffer, size: number) =>
  encodeRecord('L', Buffer.concat([u64(size), Buffer.from(path)]));

function startedChannel(): RunnerChannel {
  const channel = new RunnerChannel();
  channel.push(Buffer.concat([encodeRecord('W'), encodeRecord('R', '42')]));
  return channel;
}

describe('RecordReader', () => {
  it('reassembles records split anywhere', () => {
    const reader = new RecordReader();
    const bytes = Buffer.concat([encodeRecord('W'), encodeRecord('S', '256')]);
    const records = [...bytes].flatMap((byte) => reader.push(Buffer.from([byte])));
    expect(records.map((record) => [record.type, record.payload.toString()])).toEqual([
      ['W', ''],
      ['S', '256'],
    ]);
  });

  it('refuses a declared length past the bound before buffering it', () => {
    const header = Buffer.from([0x42, 0, 0, 0, 0]);
    header.writeUInt32BE(MAX_RECORD_PAYLOAD_BYTES + 1, 1);
    expect(() => new RecordReader().push(header)).toThrow(/bound/);
  });
});

describe('RunnerChannel', () => {
  it('takes W, R <pid>, S <status> in order', () => {
    const channel = startedChannel();
    channel.push(encodeRecord('S', String(7 << 8)));
    expect([channel.waiting, channel.started, channel.programPid, channel.status, channel.violation]).toEqual([
      true,
      true,
      42,
      7 << 8,
      undefined,
    ]);
  });

  it.each([
    ['a status before the program started', [encodeRecord('W'), encodeRecord('S', '0')]],
    ['a status that is not a wait status', [encodeRecord('W'), encodeRecord('R', '1'), encodeRecord('S', '65535')]],
    ['an unknown record', [encodeRecord('X', 'hello')]],
    ['a long line', [encodeRecord('W', 'x'.repeat(100))]],
    [
      'records after the status with no collection asked for',
      [encodeRecord('W'), encodeRecord('R', '1'), encodeRecord('S', '0'), encodeRecord('M')],
    ],
  ])('%s is a violation', (_name, records) => {
    const channel = new RunnerChannel();
    const seen: string[] = [];
    channel.onViolation((reason) => seen.push(reason));
    channel.push(Buffer.concat(records));
    expect(seen).toHaveLength(1);
    expect(channel.violation).toBeDefined();
  });
});

/** Drives a collection through a channel: the runner's records in, the host's requests out. */
function collecting(patterns: string[], diskBytes = 1 << 20) {
  const channel = startedChannel();
  const requests: Buffer[] = [];
  let finished = false;
  const collection = new RunnerCollection({
    patterns,
    diskBytes,
    send: (record) => requests.push(record),
    finish: () => (finished = true),
  });
  channel.afterStatus((record) => collection.handle(record));
  channel.push(encodeRecord('S', '0'));
  return { channel, collection, requests, finished: () => finished };
}

describe('RunnerCollection', () => {
  it('asks only for selected files, with their listed size as the bound, and takes their contents', () => {
    const run = collecting(['*.txt']);
    run.channel.push(Buffer.concat([listed('b.txt', 3), listed('a.bin', 5), listed('a.txt', 2), encodeRecord('M')]));
    expect(run.requests.map((request) => request.subarray(13).toString())).toEqual(['a.txt', 'b.txt']);
    expect(run.requests[0]!.readBigUInt64BE(5)).toBe(2n);
    run.channel.push(
      Buffer.concat([
        encodeRecord('O', u64(2)),
        encodeRecord('B', 'hi'),
        encodeRecord('Z'),
        encodeRecord('V', 'vanished'),
      ]),
    );
    expect(run.channel.violation).toBeUndefined();
    expect(run.finished()).toBe(true);
    expect(run.collection.result?.files.map((file) => [file.path, Buffer.from(file.content).toString()])).toEqual([
      ['a.txt', 'hi'],
    ]);
    expect(run.collection.result?.warnings).toEqual(['collected file "b.txt" left out: vanished']);
  });

  it('more bytes than announced, or announced than asked for, is a violation', () => {
    const tooMany = collecting(['*']);
    tooMany.channel.push(
      Buffer.concat([listed('a', 2), encodeRecord('M'), encodeRecord('O', u64(2)), encodeRecord('B', 'abc')]),
    );
    expect(tooMany.channel.violation).toMatch(/more bytes of "a" than announced/);
    const grown = collecting(['*']);
    grown.channel.push(Buffer.concat([listed('a', 2), encodeRecord('M'), encodeRecord('O', u64(3))]));
    expect(grown.channel.violation).toMatch(/more than the 2 asked for/);
  });

  it('takes special files, unopened directories and other filesystems from the listing; a kind it does not know is a violation', () => {
    const run = collecting(['*']);
    run.channel.push(
      Buffer.concat([
        encodeRecord('N', 'llink'),
        encodeRecord('U', 'locked'),
        encodeRecord('X', 'mnt'),
        encodeRecord('M'),
      ]),
    );
    expect(run.channel.violation).toBeUndefined();
    expect(run.collection.result?.warnings).toEqual([
      'collected file "link" left out: a symbolic link, not a regular file (links are never followed)',
      'collected files under "locked" left out: the directory could not be opened',
      'collected files under "mnt" left out: another filesystem is mounted there',
    ]);
    const unknown = collecting(['*']);
    unknown.channel.push(encodeRecord('N', 'xname'));
    expect(unknown.channel.violation).toMatch(/without a kind/);
  });

  it('a listing past its bound is a violation', () => {
    const run = collecting(['*']);
    const record = listed('x'.repeat(60_000), 1);
    for (let sent = 0; sent < 16 * 1024 * 1024 && run.channel.violation === undefined; sent += record.byteLength)
      run.channel.push(record);
    expect(run.channel.violation).toMatch(/a listing past/);
  });
});

describe('planCollection', () => {
  const file = (path: string | Buffer, sizeBytes = 1): ListedEntry => ({
    kind: 'file',
    pathBytes: Buffer.from(path),
    sizeBytes,
  });

  it('names what it leaves out: invalid UTF-8 (only if selected), too deep, the caps; never a file no pattern selects', () => {
    const plan = planCollection(
      {
        entries: [
          file(Buffer.from([0xff, 0x2e, 0x74, 0x78, 0x74])),
          file(Buffer.from([0xff, 0x2e, 0x62, 0x69, 0x6e])),
          { kind: 'too-deep', pathBytes: Buffer.from('d/d') },
          file('big.txt', 2000),
          file('ok.txt', 10),
          file('other.bin'),
        ],
        cutShort: true,
      },
      ['*.txt'],
      1024 * 1024,
    );
    expect(plan.wanted.map((wanted) => wanted.path)).toEqual(['big.txt', 'ok.txt']);
    expect(plan.truncated).toBe(true);
    expect(plan.warnings).toEqual([
      'collected file "\\xff.txt" left out: its name is not valid UTF-8',
      'collected files under "d/d" left out: deeper than 64 directory levels',
      'collected files: the working directory holds more than 100000 entries (or 8388608 bytes of paths); files past them were not looked at',
    ]);
    const capped = planCollection(
      { entries: [file('a.txt', 600), file('b.txt', 600), file('c.txt', 10)], cutShort: false },
      ['*'],
      1024 * 1024 + 1000,
    );
    expect(capped.wanted.map((wanted) => wanted.path)).toEqual(['a.txt', 'b.txt', 'c.txt']);
    const overBudget = planCollection(
      { entries: [file('a.txt', 700_000), file('b.txt', 700_000), file('c.txt', 10)], cutShort: false },
      ['*'],
      1024 * 1024,
    );
    expect(overBudget.wanted.map((wanted) => wanted.path)).toEqual(['a.txt', 'c.txt']);
    expect(overBudget.warnings).toEqual([
      'collected file "b.txt" left out: 700000 bytes would pass the 1048576-byte cap',
    ]);
  });

  it('names selected links and other special files, and directories it could not open; not unselected ones', () => {
    const plan = planCollection(
      {
        entries: [
          { kind: 'special', fileType: 'symbolic link', pathBytes: Buffer.from('a.txt') },
          { kind: 'special', fileType: 'fifo', pathBytes: Buffer.from('p.txt') },
          { kind: 'special', fileType: 'symbolic link', pathBytes: Buffer.from('other.bin') },
          { kind: 'unreadable', pathBytes: Buffer.from('locked') },
          file('ok.txt'),
        ],
        cutShort: false,
      },
      ['*.txt'],
      1024 * 1024,
    );
    expect(plan.wanted.map((wanted) => wanted.path)).toEqual(['ok.txt']);
    expect(plan.warnings).toEqual([
      'collected file "a.txt" left out: a symbolic link, not a regular file (links are never followed)',
      'collected file "p.txt" left out: a fifo, not a regular file',
      'collected files under "locked" left out: the directory could not be opened',
    ]);
  });

  it('quotes names: control characters as JSON writes them, invalid bytes as \\xNN, valid UTF-8 as is', () => {
    expect(quoteNameBytes(Buffer.from([0x61, 0x0a, 0xc3, 0xa9, 0xc3, 0x22, 0xf0, 0x9f, 0x98, 0x80]))).toBe(
      '"a\\né\\xc3\\"😀"',
    );
    expect(quoteNameBytes(Buffer.from('x'.repeat(300)))).toMatch(/^"x{200,}…"$/);
  });
});
