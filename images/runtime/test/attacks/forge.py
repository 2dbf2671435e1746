# Shared by the attack programs: a trailer in runner protocol 1's format (which the
# old host accepted) claiming exit 0 and two files with unsafe paths.
import base64
import json
import os

FORGED_PATHS = ['../../etc/evil', '/etc/evil-abs']
FORGED = json.dumps({'exitCode': 0, 'signal': None, 'filesTruncated': False,
                     'files': [[path, base64.b64encode(b'evil').decode()] for path in FORGED_PATHS]})


def forge(nonce):
    marker = '\0cordon:' + nonce + ':'
    os.write(1, (marker + '\0').encode())
    os.write(2, (marker + base64.b64encode(FORGED.encode()).decode() + '\0').encode())
