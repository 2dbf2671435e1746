import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SpawnExecutor } from '../src/index.js';
import { filesOf, leftoversOf, plantHostCanary } from './helpers.js';

// Collected files come only from beneath the working directory as it was when the
// program started, whatever the program did to it: the sandbox's runner walks it from a
// handle it opened before the program ran, never following a link (issue 10, hole 1).
let executor: SpawnExecutor;

beforeAll(async () => {
  executor = await SpawnExecutor.create({});
});
afterAll(async () => {
  await executor?.close();
});

describe('collected files, kernel isolation: confinement', () => {
  it('the working directory renamed and replaced by a link to a host directory: the host file never comes back', async () => {
    using canary = plantHostCanary();
    const result = await executor.execute({
      language: 'bash',
      code: `echo mine > own.txt; cd /; mv /sandbox/work /sandbox/w2; ln -s ${canary.dir} /sandbox/work`,
      collectFiles: [canary.name, 'own.txt'],
    });
    expect(result.status).toBe('ok');
    expect(JSON.stringify(filesOf(result))).not.toContain(canary.content);
    // What comes back is the directory the program started in, wherever it moved it.
    expect(filesOf(result)).toEqual([['own.txt', 'mine\n']]);
  });

  // Inside the sandbox these lead nowhere useful; read from the host they are the host's root.
  it.each(['/proc/self/root', '/proc/1/root', `/proc/${process.pid}/root`])(
    'the working directory replaced by a link through %s: the host file never comes back',
    async (magic) => {
      using canary = plantHostCanary();
      const result = await executor.execute({
        language: 'bash',
        code: `cd /; mv /sandbox/work /sandbox/w2; ln -s ${magic}${canary.dir} /sandbox/work`,
        collectFiles: ['**'],
      });
      expect(result.status).toBe('ok');
      expect(JSON.stringify(filesOf(result))).not.toContain(canary.content);
      expect(result.files).toEqual([]);
    },
  );

  it('links to host files, into /proc/self/root and /proc/1/root, and to directories are never followed', async () => {
    using canary = plantHostCanary();
    const result = await executor.execute({
      language: 'bash',
      code: [
        `ln -s ${canary.dir}/${canary.name} a.txt`,
        `ln -s /proc/self/root${canary.dir}/${canary.name} b.txt`,
        `ln -s /proc/1/root${canary.dir}/${canary.name} c.txt`,
        'ln -s /proc/1/root/etc d',
        'ln -s / e',
        'mkfifo f.txt',
        'echo mine > own.txt',
      ].join('\n'),
      collectFiles: ['*.txt', 'd/**', 'e/**'],
    });
    expect(result.status).toBe('ok');
    expect(filesOf(result)).toEqual([['own.txt', 'mine\n']]);
  });

  it('a background process racing the collection is dead before the runner lists the directory', async () => {
    using canary = plantHostCanary();
    const result = await executor.execute({
      language: 'bash',
      code: [
        'main=$$',
        // Waits for the program to exit, then swaps the working directory while the host collects.
        `( while kill -0 $main 2>/dev/null; do :; done; cd /; mv /sandbox/work /sandbox/w2; ln -s /proc/self/root${canary.dir} /sandbox/work; echo late > /sandbox/w2/late.txt; sleep 30 ) &`,
        'echo mine > own.txt',
      ].join('\n'),
      collectFiles: ['**'],
      timeoutMs: 20_000,
    });
    expect(result.status).toBe('ok');
    expect(JSON.stringify(filesOf(result))).not.toContain(canary.content);
    expect(filesOf(result).filter(([path]) => path !== 'late.txt')).toEqual([['own.txt', 'mine\n']]);
    expect(await leftoversOf(executor)).toEqual([]);
  });
});

describe('collected files, kernel isolation: what is left out is named in warnings', () => {
  it('names a file whose name is not valid UTF-8 (escaped) and files deeper than 64 levels; keeps a name with a newline', async () => {
    const result = await executor.execute({
      language: 'bash',
      code: [
        "printf x > $'\\xff-bad.txt'",
        "printf y > $'new\\nline.txt'",
        'd=$(printf "d/%.0s" $(seq 70)); mkdir -p "$d"; echo deep > "${d}deep.txt"',
        'echo ok > ok.txt',
      ].join('\n'),
      collectFiles: ['**/*.txt'],
    });
    expect(result.status).toBe('ok');
    expect(filesOf(result)).toEqual([
      ['new\nline.txt', 'y'],
      ['ok.txt', 'ok\n'],
    ]);
    const warnings = result.warnings.join('\n');
    expect(warnings).toContain('"\\xff-bad.txt"');
    expect(warnings).toMatch(/not valid UTF-8/);
    expect(warnings).toMatch(/deeper than 64 directory levels/);
  });

  it('names selected links (never followed), fifos and directories it could not open', async () => {
    const result = await executor.execute({
      language: 'bash',
      code: 'echo mine > own.txt; ln -s own.txt link.txt; mkfifo pipe.txt; mkdir locked; echo x > locked/a.txt; chmod 000 locked; ln -s own.txt unselected.bin',
      collectFiles: ['**/*.txt'],
    });
    expect(result.status).toBe('ok');
    expect(filesOf(result)).toEqual([['own.txt', 'mine\n']]);
    // In the order the directory lists them.
    expect([...result.warnings].sort()).toEqual([
      'collected file "link.txt" left out: a symbolic link, not a regular file (links are never followed)',
      'collected file "pipe.txt" left out: a fifo, not a regular file',
      'collected files under "locked" left out: the directory could not be opened',
    ]);
  });

  it('names the files left out past the count cap', async () => {
    const result = await executor.execute({
      language: 'bash',
      code: 'for i in $(seq 1001); do echo $i > f$i.txt; done',
      collectFiles: ['*.txt'],
    });
    expect(result.status).toBe('ok');
    expect(result.files).toHaveLength(1000);
    expect(result.filesTruncated).toBe(true);
    expect(result.warnings.join('\n')).toMatch(/more than 1000 files/);
  });
});
