/**
 * Where the CLI connects and as whom: a flag wins, then the CLI's own variables (QCS_*), then the
 * OpenStack ones a cinder user already has exported (OS_*: a token, or an openrc's password
 * login to Keystone, whose catalog then gives the URL unless one was set), then the local defaults.
 */
/** Keystone password authentication, as an openrc file sets it up (OS_AUTH_URL, OS_USERNAME, OS_PASSWORD, ...). */
export interface PasswordLogin {
  authUrl: string;
  password: string;
  user: { name?: string; id?: string; domain: { name?: string; id?: string } };
  project: { name?: string; id?: string; domain: { name?: string; id?: string } };
  /** The catalog interface to use: public (default), internal or admin. */
  interface: string;
  region?: string;
}

export interface Connection {
  url: string;
  /** The URL was given (flag or variable); else the default, or the catalog's after a password login. */
  urlGiven: boolean;
  token?: string;
  user: string;
  project: string;
  /** No token was given but OS_AUTH_URL and OS_PASSWORD were: log in to Keystone first. */
  login?: PasswordLogin;
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

/** The identity parts of an openrc; undefined when it has no password login (or names no user). */
function passwordLogin(env: NodeJS.ProcessEnv): PasswordLogin | undefined {
  const authUrl = first(env.OS_AUTH_URL);
  const password = first(env.OS_PASSWORD);
  const userName = first(env.OS_USERNAME);
  const userId = first(env.OS_USER_ID);
  if (authUrl === undefined || password === undefined || (userName === undefined && userId === undefined)) return undefined;
  const domain = (name: string | undefined, id: string | undefined) => (name !== undefined ? { name } : { id: id ?? 'default' });
  const projectName = first(env.OS_PROJECT_NAME, env.OS_TENANT_NAME);
  const projectId = first(env.OS_PROJECT_ID, env.OS_TENANT_ID);
  const region = first(env.OS_REGION_NAME);
  return {
    authUrl, password,
    user: { ...(userId !== undefined ? { id: userId } : { name: userName }), domain: domain(first(env.OS_USER_DOMAIN_NAME), first(env.OS_USER_DOMAIN_ID, env.OS_DEFAULT_DOMAIN)) },
    project: { ...(projectId !== undefined ? { id: projectId } : { name: projectName }), domain: domain(first(env.OS_PROJECT_DOMAIN_NAME), first(env.OS_PROJECT_DOMAIN_ID, env.OS_DEFAULT_DOMAIN)) },
    // OS_ENDPOINT_TYPE is the older spelling ("publicURL").
    interface: (first(env.OS_INTERFACE, env.OS_ENDPOINT_TYPE) ?? 'public').replace(/URL$/, ''),
    ...(region !== undefined ? { region } : {}),
  };
}

export function resolveConnection(flags: ConnectionFlags, env: NodeJS.ProcessEnv): Connection {
  const given = first(flags.url, env.QCS_URL, env.OS_VOLUME_API_URL, env.OS_ENDPOINT);
  const token = first(flags.token, env.QCS_TOKEN, env.OS_AUTH_TOKEN, env.OS_TOKEN);
  const login = token === undefined ? passwordLogin(env) : undefined;
  return {
    url: serviceRoot(given ?? DEFAULT_URL),
    urlGiven: given !== undefined,
    ...(token === undefined ? {} : { token }),
    user: first(flags.user, env.QCS_USER, env.OS_USER_ID) ?? 'admin',
    project: first(flags.project, env.QCS_PROJECT, env.OS_PROJECT_ID) ?? 'admin',
    ...(login === undefined ? {} : { login }),
  };
}
