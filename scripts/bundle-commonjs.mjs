// What every bundled file cordon ships has in common (backend-spawn's proxy agent,
// egress-broker's daemon): one self-contained CommonJS file for the oldest Node we
// support, minified, the bundled packages' licence comments kept. Options only: each
// package that bundles has esbuild as a devDependency and calls its own build().
export const COMMONJS_BUNDLE = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  minify: true,
  legalComments: 'inline',
  logLevel: 'warning',
};
