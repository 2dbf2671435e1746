import type { PropertyProbe } from './probe.js';

const OUTPUT_CAP_BYTES = 4096;

export const outputCap: PropertyProbe = {
  id: 'output-cap',
  title: `output capped at limits.outputBytes=${OUTPUT_CAP_BYTES} with truncation flags`,
  language: 'bash',
  async check(context) {
    const probe = await context.run('sandbox', {
      language: 'bash',
      limits: { outputBytes: OUTPUT_CAP_BYTES },
      code: `s=$(printf '%*s' 65536 ''); printf '%s' "$s"; printf '%s' "$s" >&2`,
    });
    const result = probe.result;
    const stdoutBytes = result ? Buffer.byteLength(result.stdout) : -1;
    const stderrBytes = result ? Buffer.byteLength(result.stderr) : -1;
    const holds =
      result !== undefined &&
      result.stdoutTruncated &&
      result.stderrTruncated &&
      stdoutBytes <= OUTPUT_CAP_BYTES &&
      stderrBytes <= OUTPUT_CAP_BYTES;
    return [
      {
        observation: {
          holds,
          reason: result
            ? `kept ${stdoutBytes}/${stderrBytes} bytes of 65536, truncated flags ${result.stdoutTruncated}/${result.stderrTruncated}`
            : 'no result',
          ...(probe.record.error ? { error: probe.record.error } : {}),
        },
        probe: probe.record,
      },
    ];
  },
};
