import { cpus, hostname, loadavg, release, totalmem, type as osType } from 'node:os';
import { readFileSync } from 'node:fs';
import type { Machine } from './results.js';
import { round } from './stats.js';

/** What the numbers were measured on; ratios travel between machines, absolute times do not. */
export function describeMachine(dockerVersion: string | null): Machine {
  const cores = cpus();
  const [one, five, fifteen] = loadavg();
  return {
    date: new Date().toISOString(),
    hostname: hostname(),
    cpus: cores.length,
    cpuModel: cores[0]?.model.trim() ?? 'unknown',
    memoryGiB: round(totalmem() / 1024 ** 3, 1),
    kernel: `${osType()} ${release()}`,
    os: osRelease(),
    node: process.version,
    docker: dockerVersion,
    loadAverage: [round(one ?? 0, 2), round(five ?? 0, 2), round(fifteen ?? 0, 2)],
  };
}

function osRelease(): string {
  try {
    const text = readFileSync('/etc/os-release', 'utf8');
    return /^PRETTY_NAME="?([^"\n]+)"?/m.exec(text)?.[1] ?? osType();
  } catch {
    return osType();
  }
}
