# Python: a trailer body of __MIB__ MiB without its closing NUL, after the nonce if
# the runner's frames give it away (protocol 1), after a guessed one otherwise. The
# host must never buffer it.
import os
import secrets
import sys


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
os.write(2, ('\0cordon:' + (nonce or secrets.token_hex(12)) + ':').encode())
chunk = memoryview(b'A' * (1 << 20))
for _ in range(__MIB__):
    view = chunk
    while view:
        view = view[os.write(2, view):]
