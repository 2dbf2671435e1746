export { backend } from './backend.js';
export { LAUNCHER_CHOICES, perlLauncher, type Launcher, type LauncherChoice, type LauncherKind } from './launcher.js';
export {
  ISOLATION_CHOICES,
  parseSpawnOptions,
  TIERS,
  type IsolationChoice,
  type ParsedSpawnOptions,
  type SpawnExecutorOptions,
  type SpawnOptions,
  type TierChoice,
} from './options.js';
export { SpawnExecutor, type Isolation, type Tier } from './spawn-executor.js';

import { backend } from './backend.js';
export default backend;
