import { collectionConfinement } from './collection-confinement.js';
import { envSecrets } from './env-secrets.js';
import { exitCodes } from './exit-code.js';
import { forkBomb } from './fork-bomb.js';
import { hostFiles } from './host-files.js';
import { hostIdentifiers } from './host-identifiers.js';
import { hostMemory } from './host-memory.js';
import { memoryOom } from './memory-oom.js';
import { noState } from './no-state.js';
import { outputCap } from './output-cap.js';
import { pidIsolation } from './pid-isolation.js';
import { identity } from './privileges.js';
import type { PropertyProbe } from './probe.js';
import { resultIntegrity } from './result-integrity.js';
import { sharedResources } from './shared-resources.js';
import { timeoutTree } from './timeout-tree.js';
import { privateTmp } from './tmp-private.js';
import { writeOutside } from './write-outside.js';

/** Every property check, in report order. `leftovers` is run by the runner itself, last. */
export const PROPERTY_PROBES: readonly PropertyProbe[] = [
  envSecrets('node'),
  envSecrets('python'),
  envSecrets('bash'),
  hostFiles,
  writeOutside,
  privateTmp,
  identity,
  pidIsolation,
  forkBomb,
  memoryOom,
  timeoutTree,
  outputCap,
  exitCodes,
  noState,
  // The result channel and the shared kernel (escape-probes.md "The result channel").
  resultIntegrity('node'),
  resultIntegrity('python'),
  resultIntegrity('bash'),
  collectionConfinement,
  hostMemory,
  sharedResources,
  hostIdentifiers,
];
