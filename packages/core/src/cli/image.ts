import { Command, Option } from 'commander';
import { loadBackendModule } from '../backend-registry.js';
import { BackendUnavailableError } from '../errors.js';
import { reportError } from './support.js';
import { escapeForTerminal } from './terminal-text.js';

/** What `cordon image build` asks of @cordon/backend-docker (loaded on demand, never a static dependency). */
export interface RuntimeImageBuilder {
  buildRuntimeImage(options: {
    mode: 'auto' | 'registry' | 'offline';
    base?: string;
    image?: string;
    signal?: AbortSignal;
    onProgress?: (line: string) => void;
  }): Promise<ImageBuildResult>;
}

/** The fields this command shows; the JSON output carries whatever the backend returned. */
export interface ImageBuildResult {
  image: string;
  id: string;
  mode: string;
  reason?: string;
  base?: string;
  runtimeVersion?: string;
  runnerProtocol?: string;
  contentHash?: string;
  nodeVersion?: string;
  stripeVersion?: string;
  durationMs?: number;
}

interface BuildFlags {
  offline?: boolean;
  registry?: boolean;
  base?: string;
  image?: string;
  json?: boolean;
}

export interface ImageCommandDeps {
  loadBuilder: () => Promise<RuntimeImageBuilder>;
}

/** The docker backend's package builds the image from the definition it ships. */
export async function loadDockerImageBuilder(): Promise<RuntimeImageBuilder> {
  const module = await loadBackendModule('docker');
  if (typeof module.buildRuntimeImage !== 'function') {
    throw new BackendUnavailableError(
      'docker',
      'the installed @cordon/backend-docker cannot build the runtime image (it has no buildRuntimeImage)',
      'Update it: pnpm add @cordon/backend-docker@latest (or npm install @cordon/backend-docker@latest).',
    );
  }
  return module as unknown as RuntimeImageBuilder;
}

export function imageCommand(deps: ImageCommandDeps = { loadBuilder: loadDockerImageBuilder }): Command {
  const image = new Command('image').description('The cordon runtime image the docker and k8s backends run.');
  image
    .command('build')
    .description(
      'Build the runtime image from the files @cordon/backend-docker ships: FROM the base through a registry, or offline from a debootstrap rootfs (needs root, debootstrap and a Debian mirror). Default: registry when the base can be pulled, else offline.',
    )
    .addOption(new Option('--offline', 'build from a debootstrap rootfs, no image registry').conflicts('registry'))
    .addOption(new Option('--registry', 'build FROM --base, pulled through a registry').conflicts('offline'))
    .option('--base <ref>', 'base image of the registry build (default: debian:bookworm-slim)')
    .option('--image <name:tag>', 'tag to build (default: the image the backends run, cordon-runtime:<version>)')
    .option('--json', 'print the result as JSON (progress stays on standard error)')
    .action(async (flags: BuildFlags) => {
      process.exitCode = await build(flags, deps);
    });
  return image;
}

async function build(flags: BuildFlags, deps: ImageCommandDeps): Promise<number> {
  const json = flags.json === true;
  const controller = new AbortController();
  const onSignal = () => controller.abort(new Error('interrupted'));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const builder = await deps.loadBuilder();
    const result = await builder.buildRuntimeImage({
      mode: flags.offline ? 'offline' : flags.registry ? 'registry' : 'auto',
      ...(flags.base !== undefined ? { base: flags.base } : {}),
      ...(flags.image !== undefined ? { image: flags.image } : {}),
      signal: controller.signal,
      onProgress: (line) => process.stderr.write(`${escapeForTerminal(line)}\n`),
    });
    process.stdout.write(json ? `${JSON.stringify(result, null, 2)}\n` : table(result));
    return 0;
  } catch (error) {
    if (controller.signal.aborted) {
      process.stderr.write('cordon: image build interrupted\n');
      return 130;
    }
    // An unavailable backend's message ends with its remedy.
    return reportError(error, json);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

function table(result: ImageBuildResult): string {
  const rows: [string, string | undefined][] = [
    ['image', result.image],
    ['id', result.id],
    ['mode', result.reason ? `${result.mode} (${result.reason})` : result.mode],
    ['built from', result.base],
    ['runtime version', result.runtimeVersion],
    ['runner protocol', result.runnerProtocol],
    ['content hash', result.contentHash],
    ['node', result.nodeVersion],
    ['stripe', result.stripeVersion],
    ['took', result.durationMs === undefined ? undefined : `${(result.durationMs / 1000).toFixed(1)} s`],
  ];
  return rows
    .filter((row): row is [string, string] => row[1] !== undefined && row[1] !== '')
    .map(([key, value]) => `${key.padEnd(16)} ${escapeForTerminal(value)}\n`)
    .join('');
}
