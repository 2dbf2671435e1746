import { InvalidRequestError, type Language } from '@cordon/core';
import { OWNER_ID } from '@cordon/core/backend';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { announceSkip, clusterTier, startTenantExecutor, type TenantExecutor } from './cluster-tier.js';

// Users' own images (images/test/build-foreign.sh; cluster:up imports cordon-test/*) in pods.
const tier = clusterTier();
if (!tier.kubeconfig && !tier.required) announceSkip(tier.why);

const IMAGES: { image: string; languages: Language[]; short: string }[] = [
  { image: 'cordon-test/minimal-node:1', languages: ['node'], short: 'mn' },
  { image: 'cordon-test/python-only:1', languages: ['python', 'bash'], short: 'po' },
  { image: 'cordon-test/node-python-stripe:1', languages: ['node', 'python', 'bash'], short: 'ns' },
];

const PROGRAMS: Record<Language, string> = {
  node: 'const fs = require("fs"); console.log("node", process.getuid(), fs.readFileSync(0, "utf8")); fs.writeFileSync("out.txt", fs.readFileSync("in.txt", "utf8") + "!");',
  python:
    'import os, sys\nprint("python", os.getuid(), sys.stdin.read())\nopen("out.txt", "w").write(open("in.txt").read() + "!")',
  bash: 'echo bash "$(id -u)" "$(cat)"; printf "%s!" "$(cat in.txt)" > out.txt',
};

describe.runIf(tier.kubeconfig !== undefined).each(IMAGES)(
  "k8s on a user's own image: $image",
  ({ image, languages, short }) => {
    let started: TenantExecutor | undefined;

    beforeAll(async () => {
      started = await startTenantExecutor(
        tier.kubeconfig!,
        { tenant: `cordon-i${short}-${OWNER_ID}`, unrestricted: `cordon-j${short}-${OWNER_ID}` },
        { image },
      );
    }, 300_000);

    afterAll(async () => {
      expect(await started?.stop()).toEqual([]);
    }, 120_000);

    it('offers the languages the image has, found by a probe pod', () => {
      expect([...started!.executor.capabilities().languages].sort()).toEqual([...languages].sort());
      expect(started!.executor.capabilities().notes?.join('\n')).toContain("not cordon's");
    });

    it("runs each language as the pod's non-root uid, with stdin, files in and files out", async () => {
      for (const language of languages) {
        const result = await started!.executor.execute({
          language,
          code: PROGRAMS[language],
          stdin: 'in!',
          files: { 'in.txt': language },
          collectFiles: ['out.txt'],
        });
        expect(result.status, `${language}: ${result.stderr}`).toBe('ok');
        const [name, uid, input] = result.stdout.trim().split(' ');
        expect([name, input]).toEqual([language, 'in!']);
        expect(Number(uid)).toBeGreaterThan(0);
        expect(result.files?.map((file) => [file.path, Buffer.from(file.content).toString()])).toEqual([
          ['out.txt', `${language}!`],
        ]);
      }
    }, 120_000);

    it('refuses a language the image lacks, naming it', async () => {
      for (const language of (['node', 'python', 'bash'] as const).filter((l) => !languages.includes(l)))
        await expect(started!.executor.execute({ language, code: 'true' })).rejects.toThrow(InvalidRequestError);
    });
  },
);
