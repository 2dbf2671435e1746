// The build's second step: cordon's in-container runner (images/runtime/runner, its one
// source), shipped in dist/runner so the docker and k8s backends can send it into images
// that are not cordon's (see src/backend/foreign-image.ts).
import { cpSync, rmSync } from 'node:fs';

const target = new URL('../dist/runner/', import.meta.url);
rmSync(target, { recursive: true, force: true });
cpSync(new URL('../../../images/runtime/runner/', import.meta.url), target, { recursive: true });
