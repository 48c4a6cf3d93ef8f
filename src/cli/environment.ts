/**
 * Where the CLI connects and as whom: a flag wins, then the CLI's own variables (QCS_*), then the
 * OpenStack ones a cinder user already has exported (OS_*), then the local defaults.
 */
export interface Connection {
  url: string;
  token?: string;
  user: string;
  project: string;
}

export interface ConnectionFlags {
  url?: string;
  token?: string;
  user?: string;
  project?: string;
}

export const DEFAULT_URL = 'http://127.0.0.1:8776';

const first = (...values: (string | undefined)[]): string | undefined => values.find((v) => v !== undefined && v !== '');

/**
 * A Cinder endpoint from the catalog ends in /v3/<project id> (or /v2/...): the client adds
 * /v3/... itself, so the version path is dropped rather than doubled.
 */
export function serviceRoot(url: string): string {
  return url.replace(/\/+$/, '').replace(/\/v[23](\/[^/]*)?$/, '');
}

export function resolveConnection(flags: ConnectionFlags, env: NodeJS.ProcessEnv): Connection {
  const url = first(flags.url, env.QCS_URL, env.OS_VOLUME_API_URL, env.OS_ENDPOINT) ?? DEFAULT_URL;
  const token = first(flags.token, env.QCS_TOKEN, env.OS_AUTH_TOKEN, env.OS_TOKEN);
  return {
    url: serviceRoot(url),
    ...(token === undefined ? {} : { token }),
    user: first(flags.user, env.QCS_USER, env.OS_USER_ID) ?? 'admin',
    project: first(flags.project, env.QCS_PROJECT, env.OS_PROJECT_ID) ?? 'admin',
  };
}
