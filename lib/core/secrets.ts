/**
 * Secrets (database password, Keystone password, compute-host credentials) come from a file named
 * in the configuration (`*File` keys) or from the environment, so the main configuration file can
 * be shared, versioned and logged without them. The value is never logged: errors name the file
 * or the variable, never the content.
 */
import { readFileSync } from 'node:fs';
import { StorageError } from './errors.js';

export interface SecretSource {
  /** What the secret is, for error messages ("db.password"). */
  name: string;
  /** A file holding the secret (trailing newline ignored); '' when not used. */
  file?: string;
  /** An environment variable holding it. */
  envVar?: string;
  /** The value inline in the configuration (kept for compatibility; the file or variable wins). */
  inline?: string;
}

/** The secret from its file, else its environment variable, else the inline value; '' when none is set. */
export function readSecret(s: SecretSource, env: NodeJS.ProcessEnv = process.env): string {
  if (s.file) {
    let text: string;
    try {
      text = readFileSync(s.file, 'utf8');
    } catch (err) {
      throw new StorageError('CONFIG_INVALID', `cannot read the file of ${s.name} (${s.file}): ${(err as NodeJS.ErrnoException).code ?? 'error'}`, { cause: err });
    }
    // One line: an editor's final newline is not part of the secret.
    const value = text.replace(/\r?\n$/, '');
    if (value === '') throw new StorageError('CONFIG_INVALID', `the file of ${s.name} (${s.file}) is empty`);
    return value;
  }
  const fromEnv = s.envVar ? env[s.envVar] : undefined;
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  return s.inline ?? '';
}
