// Node: patch fs.writeSync, which the protocol 1 runner (same process) wrote its
// trailer with, so the real trailer goes out with a forged body; then exit 9.
const fs = require('node:fs');
const original = fs.writeSync;
const forged = Buffer.from(
  JSON.stringify({
    exitCode: 0,
    signal: null,
    filesTruncated: false,
    files: ['../../etc/evil', '/etc/evil-abs'].map((path) => [path, Buffer.from('evil').toString('base64')]),
  }),
).toString('base64');
fs.writeSync = function (fd, data, ...rest) {
  const text = Buffer.isBuffer(data) ? data.toString('latin1') : String(data);
  const at = text.indexOf('\0cordon:');
  if (fd === 2 && at >= 0) {
    const marker = text.slice(at, text.indexOf(':', at + 8) + 1);
    original.call(fs, fd, `${marker}${forged}\0`);
    return typeof rest[1] === 'number' ? rest[1] : Buffer.byteLength(data);
  }
  return original.call(fs, fd, data, ...rest);
};
console.log('fs.writeSync patched');
process.exitCode = 9;
