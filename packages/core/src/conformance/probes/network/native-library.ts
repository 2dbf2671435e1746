import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { findOnPath } from '../../on-host.js';

const run = promisify(execFile);

// A shared library whose constructor connects to the canary with raw libc calls
// and sends the nonce: native code loaded into Node (process.dlopen) runs before
// Node even sees it is not an addon, beneath every JavaScript-level guard.
const SOURCE = String.raw`
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

static void report(const char *step, int ok, int err) {
  if (ok) printf("CORDON-PROBE {\"step\":\"%s\",\"ok\":true}\n", step);
  else printf("CORDON-PROBE {\"step\":\"%s\",\"ok\":false,\"code\":\"errno %d\",\"message\":\"%s\"}\n", step, err, strerror(err));
  fflush(stdout);
}

__attribute__((constructor)) static void cordon_probe(void) {
  const char *host = getenv("CORDON_PROBE_HOST");
  const char *port = getenv("CORDON_PROBE_PORT");
  const char *nonce = getenv("CORDON_PROBE_NONCE");
  if (!host || !port || !nonce) return;
  struct sockaddr_in addr;
  memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_port = htons((unsigned short)atoi(port));
  if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) { report("native connect", 0, EINVAL); return; }
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) { report("native socket", 0, errno); return; }
  struct timeval timeout = { 4, 0 };
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
  if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) { report("native connect", 0, errno); close(fd); return; }
  char buffer[128];
  int length = snprintf(buffer, sizeof buffer, "dlopen %s", nonce);
  if (send(fd, buffer, (size_t)length, 0) < 0) report("native send", 0, errno);
  else report("native connect+send", 1, 0);
  close(fd);
}
`;

export type NativeLibrary = { readonly bytes: Uint8Array } | { readonly unavailable: string };

let built: Promise<NativeLibrary> | undefined;

/** Builds the probe library once per process with the host's C compiler (same machine, same architecture as its sandboxes). */
export function nativeProbeLibrary(): Promise<NativeLibrary> {
  built ??= build();
  return built;
}

async function build(): Promise<NativeLibrary> {
  const compiler = findOnPath('cc') ?? findOnPath('gcc') ?? findOnPath('clang');
  if (!compiler)
    return {
      unavailable:
        'no C compiler (cc, gcc or clang) on the host to build the native probe library; install gcc to make this probe decisive',
    };
  const dir = await mkdtemp(join(tmpdir(), 'cordon-native-probe-'));
  try {
    await writeFile(join(dir, 'probe.c'), SOURCE);
    await run(compiler, ['-shared', '-fPIC', '-O1', '-o', join(dir, 'probe.so'), join(dir, 'probe.c')], {
      timeout: 60_000,
    });
    return { bytes: new Uint8Array(await readFile(join(dir, 'probe.so'))) };
  } catch (error) {
    return {
      unavailable: `building the native probe library failed: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
