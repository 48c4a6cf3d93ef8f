/**
 * TLS of a listener (storage API, coordinator): certificate and key files read at start and read
 * again on SIGHUP, swapped into the running server (setSecureContext) so the listener and its open
 * connections stay; new handshakes get the new certificate. A reload that fails (a missing file, a
 * key that does not match) keeps the old certificate and says why.
 */
import { readFileSync } from 'node:fs';
import type { Server as HttpsServer, ServerOptions } from 'node:https';
import { StorageError } from './errors.js';

export interface TlsFiles {
  certFile: string;
  keyFile: string;
  /** Require and verify a client certificate signed by this CA; '' = none asked. */
  clientCaFile: string;
}

function read(file: string, what: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new StorageError('CONFIG_INVALID', `cannot read the TLS ${what} file ${file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`, { cause: err });
  }
}

/** The secure-context options of `files` (read now). */
export function tlsOptions(files: TlsFiles): ServerOptions {
  const o: ServerOptions = { cert: read(files.certFile, 'certificate'), key: read(files.keyFile, 'key'), minVersion: 'TLSv1.2' };
  if (files.clientCaFile) {
    o.ca = read(files.clientCaFile, 'client CA');
    o.requestCert = true;
    o.rejectUnauthorized = true;
  }
  return o;
}

/** Read the files again and serve them from the next handshake on; throws (old context kept) when they do not load. */
export function reloadTls(server: HttpsServer, files: TlsFiles): void {
  const o = tlsOptions(files);
  try {
    server.setSecureContext(o);
  } catch (err) {
    throw new StorageError('CONFIG_INVALID', `the TLS certificate ${files.certFile} and key ${files.keyFile} do not load: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * On SIGHUP, reload; returns the function that removes the handler (at stop). Installed for a
 * plain-HTTP listener too (files null), so that a reload (systemd's ExecReload) never kills the
 * process, as a signal without a handler would.
 */
export function reloadOnSighup(server: HttpsServer, files: TlsFiles | null, log: { info(o: object, m: string): void; error(o: object, m: string): void }): () => void {
  const onHup = () => {
    if (!files) {
      log.info({}, 'SIGHUP: no TLS configured, nothing to reload');
      return;
    }
    try {
      reloadTls(server, files);
      log.info({ cert_file: files.certFile }, 'TLS certificate reloaded');
    } catch (err) {
      log.error({ err }, 'TLS reload failed: the previous certificate is still served');
    }
  };
  process.on('SIGHUP', onHup);
  return () => { process.off('SIGHUP', onHup); };
}
