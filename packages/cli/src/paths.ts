import { homedir } from 'node:os';
import { join } from 'node:path';

/** Where the client keeps its state (decision: XDG base directories, or one STRONGROOM_HOME). */
export interface ClientPaths {
  /** Session, online/offline state: `$XDG_CONFIG_HOME/strongroom`. */
  configDir: string;
  /** Machine secret, offline cache, journal, KDF parameters: `$XDG_DATA_HOME/strongroom`. */
  dataDir: string;
  session: string;
  state: string;
  machineSecret: string;
  client: string;
  cache: string;
  cacheInfo: string;
  pending: string;
}

export function clientPaths(env: NodeJS.ProcessEnv): ClientPaths {
  const home = env.STRONGROOM_HOME;
  let configDir: string;
  let dataDir: string;
  if (home) {
    configDir = join(home, 'config');
    dataDir = join(home, 'data');
  } else {
    const user = env.HOME || homedir();
    configDir = join(absoluteOr(env.XDG_CONFIG_HOME, join(user, '.config')), 'strongroom');
    dataDir = join(absoluteOr(env.XDG_DATA_HOME, join(user, '.local', 'share')), 'strongroom');
  }
  return {
    configDir,
    dataDir,
    session: join(configDir, 'session.json'),
    state: join(configDir, 'state.json'),
    machineSecret: join(dataDir, 'machine.key'),
    client: join(dataDir, 'client.json'),
    cache: join(dataDir, 'cache.kdbx'),
    cacheInfo: join(dataDir, 'cache.json'),
    pending: join(dataDir, 'pending-clears.json'),
  };
}

/** XDG says a relative value is invalid and must be ignored. */
function absoluteOr(value: string | undefined, fallback: string): string {
  return value && value.startsWith('/') ? value : fallback;
}
