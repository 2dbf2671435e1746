export { backend } from './backend.js';
export { TIERS, type SpawnExecutorOptions, type TierChoice } from './options.js';
export { SpawnExecutor, type Tier } from './spawn-executor.js';

import { backend } from './backend.js';
export default backend;
