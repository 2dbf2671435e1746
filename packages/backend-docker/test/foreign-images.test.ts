import { InvalidRequestError, type Language } from '@cordon/core';
import { afterAll, describe, expect, it } from 'vitest';
import { DockerBackendExecutor } from '../src/docker-backend-executor.js';
import { sessionContainers } from './support/containers.js';
import { dockerTier } from './support/docker-tier.js';
import { foreignImagesPresent } from './support/foreign-images.js';

const available = (await dockerTier('docker')) && (await foreignImagesPresent());

/** The images images/test/build-foreign.sh builds, and what each really holds. */
const IMAGES: { image: string; languages: Language[]; absent: string }[] = [
  { image: 'cordon-test/minimal-node:1', languages: ['node'], absent: 'python' },
  { image: 'cordon-test/python-only:1', languages: ['python', 'bash'], absent: 'node' },
  { image: 'cordon-test/node-python-stripe:1', languages: ['node', 'python', 'bash'], absent: 'none' },
];

const PROGRAMS: Record<Language, string> = {
  node: 'const fs = require("fs"); console.log("node", process.getuid(), fs.readFileSync(0, "utf8")); fs.writeFileSync("out.txt", fs.readFileSync("in.txt", "utf8") + "!");',
  python:
    'import os, sys\nprint("python", os.getuid(), sys.stdin.read())\nopen("out.txt", "w").write(open("in.txt").read() + "!")',
  bash: 'echo bash "$(cat)"; printf "%s!" "$(cat in.txt)" > out.txt',
};

describe.runIf(available).each(IMAGES)('a foreign image: $image', ({ image, languages }) => {
  let executor: DockerBackendExecutor | undefined;
  const created = async () => (executor ??= await DockerBackendExecutor.create({ image, poolSize: 1 }));

  afterAll(async () => {
    await executor?.close();
    expect(await sessionContainers()).toEqual([]);
  });

  it('offers exactly the languages the image has, found by probing it', async () => {
    const facts = await created();
    expect(facts.facts.foreignImage).toBe(true);
    expect([...facts.capabilities().languages].sort()).toEqual([...languages].sort());
    expect(facts.capabilities().notes?.join('\n')).toContain("not cordon's");
  });

  it('runs each language as a non-root uid, with stdin, files in and files out', async () => {
    const sandbox = await created();
    for (const language of languages) {
      const result = await sandbox.execute({
        language,
        code: PROGRAMS[language],
        stdin: 'in!',
        files: { 'in.txt': language },
        collectFiles: ['out.txt'],
      });
      expect(result.status, `${language}: ${result.stderr}`).toBe('ok');
      const [name, uid, input] = result.stdout.trim().split(' ');
      expect(name).toBe(language);
      expect(input ?? uid).toBe('in!');
      if (language !== 'bash') expect(Number(uid)).toBeGreaterThan(0);
      expect(result.files?.map((file) => [file.path, Buffer.from(file.content).toString()])).toEqual([
        ['out.txt', `${language}!`],
      ]);
    }
  });

  it('refuses a language the image lacks, naming it', async () => {
    const sandbox = await created();
    const missing = (['node', 'python', 'bash'] as const).filter((language) => !languages.includes(language));
    for (const language of missing) {
      await expect(sandbox.execute({ language, code: 'true' })).rejects.toThrow(InvalidRequestError);
      await expect(sandbox.execute({ language, code: 'true' })).rejects.toThrow(new RegExp(language));
    }
  });

  it('keeps the hardening: read-only root, no capabilities, the runner unwritable, no network', async () => {
    const sandbox = await created();
    const language = languages[0]!;
    const probe: Record<Language, string> = {
      node: `const fs = require("fs"); const tryWrite = (p) => { try { fs.writeFileSync(p, "x"); return "written"; } catch (e) { return e.code; } };
console.log(JSON.stringify({ root: tryWrite("/x"), runner: tryWrite("/opt/cordon/runner/supervisor.cjs"), caps: fs.readFileSync("/proc/self/status", "utf8").match(/CapEff:\\s*(\\w+)/)[1], ifaces: Object.keys(require("os").networkInterfaces()) }));`,
      python: `import json, os
def try_write(p):
    try:
        open(p, "w").write("x"); return "written"
    except OSError as e:
        return {30: "EROFS", 13: "EACCES"}.get(e.errno, str(e.errno))
caps = [l.split()[1] for l in open("/proc/self/status") if l.startswith("CapEff")][0]
print(json.dumps({"root": try_write("/x"), "runner": try_write("/opt/cordon/runner/supervisor.py"), "caps": caps, "ifaces": sorted(os.listdir("/sys/class/net"))}))`,
      bash: 'true',
    };
    const result = await sandbox.execute({ language, code: probe[language] });
    expect(result.status, result.stderr).toBe('ok');
    const seen = JSON.parse(result.stdout) as { root: string; runner: string; caps: string; ifaces: string[] };
    expect(seen.root).toBe('EROFS');
    expect(seen.runner).toBe('EACCES');
    expect(seen.caps).toBe('0000000000000000');
    expect(seen.ifaces).toEqual(['lo']);
  });
});
