import { pino, type Logger } from 'pino';

/**
 * JSON logs on stderr (stdout stays free for CLI output). Level from LOG_LEVEL is read once by
 * config; tests default to "silent" unless LOG_LEVEL is set.
 */
let root: Logger | undefined;

export function configureLogger(level: string): Logger {
  root = pino({ level, base: { pid: process.pid } }, pino.destination(2));
  return root;
}

export function logger(component: string): Logger {
  if (!root) {
    const defaultLevel = process.env.LOG_LEVEL ?? (process.env.npm_lifecycle_event?.startsWith('test') ? 'silent' : 'info');
    root = configureLogger(defaultLevel);
  }
  return root.child({ component });
}

export type { Logger };
