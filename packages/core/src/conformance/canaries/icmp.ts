import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { CanaryLog } from './log.js';
import { hostPython } from '../on-host.js';

// Node cannot open raw sockets, so a tiny Python helper reads ICMP and prints each packet as hex.
const LISTENER = `
import binascii, ctypes, socket
ctypes.CDLL(None).prctl(1, 9)  # PR_SET_PDEATHSIG: die with the suite, never linger
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
print("READY", flush=True)
while True:
    data, addr = s.recvfrom(65535)
    print(addr[0], binascii.hexlify(data).decode(), flush=True)
`;

/**
 * An ICMP canary: records the payload of every ICMP packet the host receives, so
 * `ping -p <nonce>` and raw-socket probes can be judged by what arrived. Needs
 * CAP_NET_RAW on the host; `start` resolves to undefined (with the reason) without it.
 */
export class IcmpCanary {
  readonly #child: ChildProcess;

  private constructor(child: ChildProcess) {
    this.#child = child;
  }

  static async start(log: CanaryLog): Promise<IcmpCanary | { unavailable: string }> {
    if (process.platform !== 'linux') return { unavailable: 'the ICMP canary needs Linux' };
    if (process.getuid?.() !== 0)
      return { unavailable: 'the ICMP canary needs CAP_NET_RAW on the host (run the suite as root)' };
    const python = hostPython();
    if (!python) return { unavailable: 'the ICMP canary needs python3 on the host' };
    const child = spawn(python, ['-c', LISTENER], { stdio: ['ignore', 'pipe', 'pipe'] });
    const lines = createInterface({ input: child.stdout });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const ready = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), 5_000);
      lines.once('line', (line) => {
        clearTimeout(timer);
        resolve(line === 'READY');
      });
      child.once('exit', () => {
        clearTimeout(timer);
        resolve(false);
      });
    });
    if (!ready) {
      child.kill('SIGKILL');
      return {
        unavailable: `the ICMP canary could not open a raw socket: ${stderr.trim().split('\n').pop() ?? 'no output'}`,
      };
    }
    lines.on('line', (line) => {
      const [from, hex] = line.split(' ');
      if (from && hex) log.record('icmp', `from ${from}`, Buffer.from(hex, 'hex'));
    });
    return new IcmpCanary(child);
  }

  async close(): Promise<void> {
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.#child.once('exit', () => resolve()));
    this.#child.kill('SIGKILL');
    await exited;
  }
}
