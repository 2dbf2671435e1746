// The build's second step: the runtime image's definition, shipped in the package so
// `npx cordon image build` builds it from the installed files. images/runtime stays the
// one source; the copy is byte-identical, so build-offline.sh computes the same content hash.
import { copyFileSync, cpSync, mkdirSync, rmSync } from 'node:fs';

const source = new URL('../../../images/runtime/', import.meta.url);
const target = new URL('../dist/image/', import.meta.url);

rmSync(target, { recursive: true, force: true });
mkdirSync(target, { recursive: true });
for (const name of ['Dockerfile', 'build-offline.sh', 'fetch-vendor.sh', 'versions.env'])
  copyFileSync(new URL(name, source), new URL(name, target));
// Wholesale: whatever files the supervisor is made of today.
cpSync(new URL('runner/', source), new URL('runner/', target), { recursive: true });
