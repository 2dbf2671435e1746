#!/usr/bin/env node
import { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { conformanceCommand } from './conformance.js';
import { doctorCommand } from './doctor.js';
import { imageCommand } from './image.js';
import { runCommand } from './run.js';

const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

const program = new Command('cordon')
  .description('Run untrusted Node.js, Python and shell code with no way out.')
  .version(version)
  .showHelpAfterError();

program.addCommand(runCommand());
program.addCommand(conformanceCommand());
program.addCommand(doctorCommand());
program.addCommand(imageCommand());

await program.parseAsync(process.argv);
