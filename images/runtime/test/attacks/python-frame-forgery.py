# Python: look for the nonce in the runner's frames (protocol 1 ran the program inside
# the runner's own interpreter), forge a trailer with it, then exit 9.
import os
import sys

FORGE = '__FORGE__'


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
    exec(FORGE)
    forge(nonce)
os._exit(9)
