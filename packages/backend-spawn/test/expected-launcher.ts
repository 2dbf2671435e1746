import { accessSync, constants } from 'node:fs';
import type { LauncherKind } from '../src/index.js';

/**
 * The launcher the default executor must pick here: CI says which (it runs the tier a second
 * time with bubblewrap masked, CORDON_TEST_EXPECT_LAUNCHER=perl), else bubblewrap where
 * /usr/bin/bwrap is executable.
 */
export function expectedLauncher(): LauncherKind {
  const told = process.env.CORDON_TEST_EXPECT_LAUNCHER;
  if (told === 'bubblewrap' || told === 'perl') return told;
  if (told !== undefined) throw new Error(`CORDON_TEST_EXPECT_LAUNCHER=${told} is neither bubblewrap nor perl`);
  try {
    accessSync('/usr/bin/bwrap', constants.X_OK);
    return 'bubblewrap';
  } catch {
    return 'perl';
  }
}
