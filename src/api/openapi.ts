/**
 * The OpenAPI document, generated from the same route table that express registers, so the two
 * cannot drift; a test compares it with express's own router stack.
 */
import { ERROR_CODES } from '../../lib/core/errors.js';
import { expressPaths, openApiPath, type RouteDef } from './routes/route.js';
import { MAX_VERSION } from './routes/versions.js';

const fault = {
  description: 'OpenStack fault: {"<faultName>": {"message", "code" (HTTP status), "error_code" (stable code)}}',
  content: { 'application/json': { schema: { type: 'object', additionalProperties: { $ref: '#/components/schemas/Fault' } } } },
};

/** Path parameters that are names, not UUIDs (a type is shown by id or name, as the cinder client looks it up). */
const TEXT_PARAMS = new Set(['project_id', 'host_name', 'type_id', 'key', 'tenant_id']);

function operation(r: RouteDef, path: string): Record<string, unknown> {
  const params = [...path.matchAll(/\{([a-z_]+)\}/g)].map((m) => ({
    name: m[1], in: 'path', required: true, schema: TEXT_PARAMS.has(m[1] as string) ? { type: 'string' } : { type: 'string', format: 'uuid' },
  }));
  return {
    summary: r.summary,
    parameters: params,
    ...(r.versioned ? { security: [{ token: [] }] } : {}),
    ...(r.method === 'post' || r.method === 'put' ? { requestBody: { content: { 'application/json': { schema: { type: 'object' } } } } } : {}),
    responses: { [String(r.status)]: { description: 'success' }, '4XX': fault, '5XX': fault },
  };
}

export function openApiDocument(routes: RouteDef[]): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    for (const p of expressPaths(r)) {
      const path = openApiPath(p);
      paths[path] = { ...paths[path], [r.method]: operation(r, path) };
    }
  }
  return {
    openapi: '3.0.3',
    info: { title: 'qcow-share storage service (OpenStack Block Storage v3 shapes)', version: MAX_VERSION },
    paths,
    components: {
      securitySchemes: { token: { type: 'apiKey', in: 'header', name: 'X-Auth-Token' } },
      schemas: {
        Fault: {
          type: 'object', required: ['message', 'code', 'error_code'],
          properties: { message: { type: 'string' }, code: { type: 'integer' }, error_code: { type: 'string', enum: Object.keys(ERROR_CODES) } },
        },
      },
    },
  };
}
