import { pino, type Logger, type LoggerOptions } from 'pino';
import { currentRequest } from './request-context.js';

/**
 * JSON logs on stderr (stdout stays free for CLI output). Level from LOG_LEVEL is read once by
 * config; tests default to "silent" unless LOG_LEVEL is set.
 *
 * Each line has an ISO time and the level's name (log shippers and people read them without a
 * table), and, inside a request or the background work it started, its request id.
 */
let root: Logger | undefined;

export function loggerOptions(level: string): LoggerOptions {
  return {
    level,
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    mixin: () => {
      const ctx = currentRequest();
      return ctx ? { requestId: ctx.requestId } : {};
    },
  };
}

export function configureLogger(level: string): Logger {
  root = pino(loggerOptions(level), pino.destination(2));
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
