/**
 * What a compute host's registry entry may hold, checked the same way by the API, the CLI and the
 * coordinator's configuration:
 * - host name: a DNS-style name (Nova's `host`), no slashes or spaces, so it is safe in a path;
 * - coordinator endpoint: an absolute http(s) URL without user info, query or fragment (a URL with
 *   credentials in it would put a secret into every log line that names the endpoint);
 * - credential: what the storage service sends to that coordinator; printable ASCII, no spaces
 *   (it travels in a header), long enough not to be guessed.
 */
import { StorageError } from './errors.js';

export const HOST_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$/;
export const CREDENTIAL = /^[\x21-\x7e]{16,255}$/;

export function assertHostName(name: string): void {
  if (!HOST_NAME.test(name)) {
    throw new StorageError('INVALID_INPUT', 'host name must be 1-255 letters, digits, ".", "_" or "-", starting with a letter or digit', { details: { field: 'host_name' } });
  }
}

/** The endpoint as stored: the URL's normal form; throws INVALID_INPUT naming the rule broken. */
export function normalEndpoint(raw: string): string {
  const refuse = (why: string) => new StorageError('INVALID_INPUT', `coordinator endpoint ${why}`, { details: { field: 'coordinator_endpoint' } });
  if (raw.length > 255) throw refuse('is longer than 255 characters');
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw refuse('is not an absolute URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw refuse('must use http or https');
  if (url.username !== '' || url.password !== '') throw refuse('must not carry credentials');
  if (url.search !== '' || url.hash !== '') throw refuse('must not carry a query or fragment');
  return url.href;
}

export function assertCredential(credential: string): void {
  if (!CREDENTIAL.test(credential)) {
    throw new StorageError('INVALID_INPUT', 'credential must be 16-255 printable ASCII characters without spaces', { details: { field: 'credential' } });
  }
}
