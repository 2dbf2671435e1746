export { backend } from './backend.js';
export {
  parseSpawnOptions,
  TIERS,
  type ParsedSpawnOptions,
  type SpawnExecutorOptions,
  type SpawnOptions,
  type TierChoice,
} from './options.js';
export { SpawnExecutor, type Tier } from './spawn-executor.js';

import { backend } from './backend.js';
export default backend;
