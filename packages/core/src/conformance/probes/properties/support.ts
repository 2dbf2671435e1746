// Helpers more than one property probe needs (and the runner, which plants `fakeKey`).

/** Probe code carries secrets reversed, so the secret never appears in its own command line. */
export const reversed = (text: string) => [...text].reverse().join('');

/** The planted private key's content; it carries the run's secret. */
export function fakeKey(secret: string): string {
  return `-----BEGIN OPENSSH PRIVATE KEY-----\ncordon-conformance-canary ${secret}\n-----END OPENSSH PRIVATE KEY-----\n`;
}
