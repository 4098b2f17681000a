export { run, COMMANDS, mainUsage } from './cli.js';
export { EXIT_CODES, CliError, type CliErrorCode } from './errors.js';
export { clientPaths, type ClientPaths } from './paths.js';
