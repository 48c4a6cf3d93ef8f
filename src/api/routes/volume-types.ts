/**
 * /v3/{project_id}/types: volume types, their extra specs and per-project access to private ones
 * (Cinder's routes, os-volume-type-access). Members list and show public types and the private
 * ones their project was given; admins see all and create, update, delete and change them.
 */
import type { Request } from 'express';
import { callerOf, scopedProject } from '../auth.js';
import { isAdmin, type ServiceDeps } from '../context.js';
import { addTypeAccess, removeTypeAccess, typeAccessList } from '../usecases/volume-types/type-access.js';
import { createType, defaultType, deleteType, setExtraSpecs, unsetExtraSpec, updateType, visibleType } from '../usecases/volume-types/types.js';
import { noQuery } from '../validation/common.js';
import { parse } from '../validation/parse.js';
import { specBody, specPath, specsBody, typeActionBody, typeCreateBody, typeListQuery, typePath, typeUpdateBody } from '../validation/volume-types.js';
import { volumeTypeView } from '../views/volume-type-view.js';
import { StorageError } from '../../../lib/core/errors.js';
import type { RouteDef } from './route.js';

/** The path's type as the caller may see it; routes without a query refuse one (a typo is not ignored). */
async function typeOfPath(deps: ServiceDeps, req: Request) {
  parse(noQuery, req.query, 'query');
  const { type_id } = parse(typePath, req.params, 'path');
  scopedProject(req);
  return visibleType(deps, callerOf(req), type_id);
}

async function listTypes(deps: ServiceDeps, req: Request): Promise<Record<string, unknown>> {
  const q = parse(typeListQuery, req.query, 'query');
  scopedProject(req);
  const caller = callerOf(req);
  const admin = isAdmin(caller);
  // As Cinder: is_public=false lists private types (admins), None (or absent) every type the caller may see.
  const wanted = q.is_public === undefined || /^none$/i.test(q.is_public) ? 'all' : /^(1|true)$/i.test(q.is_public) ? 'public' : 'private';
  const types = (await deps.repos.volumeTypes.list({ includePrivate: admin, accessOf: caller.projectId }))
    .filter((t) => wanted === 'all' || (wanted === 'public') === t.isPublic)
    .filter((t) => q.name === undefined || t.name.toLowerCase() === q.name.toLowerCase());
  return { volume_types: types.map(volumeTypeView) };
}

export function volumeTypeRoutes(deps: ServiceDeps): RouteDef[] {
  return [
    { method: 'get', path: '/types', versioned: true, policy: 'volume_extension:type_get_all', status: 200, summary: 'List volume types (private ones: admins only)', handler: async (req, res) => { res.json(await listTypes(deps, req)); } },
    {
      method: 'get', path: '/types/default', versioned: true, policy: 'volume_extension:type_get', status: 200, summary: 'Show the default volume type',
      handler: async (req, res) => {
        parse(noQuery, req.query, 'query');
        scopedProject(req);
        res.json({ volume_type: volumeTypeView(await defaultType(deps)) });
      },
    },
    {
      method: 'get', path: '/types/:type_id', versioned: true, policy: 'volume_extension:type_get', status: 200, summary: 'Show a volume type (by id or name)',
      handler: async (req, res) => { res.json({ volume_type: volumeTypeView(await typeOfPath(deps, req)) }); },
    },
    {
      method: 'post', path: '/types', versioned: true, policy: 'volume_extension:type_create', status: 200, summary: 'Create a volume type with extra specs (admin; every spec checked)',
      handler: async (req, res) => {
        parse(noQuery, req.query, 'query');
        const { volume_type: b } = parse(typeCreateBody, req.body, 'body');
        scopedProject(req);
        const type = await createType(deps, {
          name: b.name, description: b.description ?? null, isPublic: b['os-volume-type-access:is_public'] ?? b.is_public ?? true, extraSpecs: b.extra_specs ?? {},
        });
        res.json({ volume_type: volumeTypeView(type) });
      },
    },
    {
      method: 'put', path: '/types/:type_id', versioned: true, policy: 'volume_extension:type_update', status: 200, summary: 'Update a volume type: name, description, is_public (admin; the default type keeps its name and stays public)',
      handler: async (req, res) => {
        const { volume_type: b } = parse(typeUpdateBody, req.body, 'body');
        const type = await typeOfPath(deps, req);
        const updated = await updateType(deps, type, {
          name: b.name ?? undefined, description: b.description ?? undefined, isPublic: b.is_public ?? undefined,
        });
        res.json({ volume_type: volumeTypeView(updated) });
      },
    },
    {
      method: 'get', path: '/types/:type_id/os-volume-type-access', versioned: true, policy: 'volume_extension:volume_type_access:get_all_for_type', status: 200,
      summary: 'List the projects given access to a private volume type (admin; a public type has no list: 404)',
      handler: async (req, res) => {
        const access = await typeAccessList(deps, await typeOfPath(deps, req));
        res.json({ volume_type_access: access.map((a) => ({ volume_type_id: a.volumeTypeId, project_id: a.projectId })) });
      },
    },
    {
      method: 'post', path: '/types/:type_id/action', versioned: true, policy: 'volume_extension:volume_type_access:project_access', status: 202,
      summary: 'addProjectAccess / removeProjectAccess of a private volume type (admin)',
      handler: async (req, res) => {
        const body = parse(typeActionBody, req.body, 'body');
        const type = await typeOfPath(deps, req);
        if ('addProjectAccess' in body) await addTypeAccess(deps, type, body.addProjectAccess.project);
        else await removeTypeAccess(deps, type, body.removeProjectAccess.project);
        res.status(202).end();
      },
    },
    {
      method: 'delete', path: '/types/:type_id', versioned: true, policy: 'volume_extension:type_delete', status: 202, summary: 'Delete a volume type (refused while volumes have it, and for the default type) (admin)',
      handler: async (req, res) => {
        await deleteType(deps, await typeOfPath(deps, req));
        res.status(202).end();
      },
    },
    {
      method: 'get', path: '/types/:type_id/extra_specs', versioned: true, policy: 'volume_extension:types_extra_specs:index', status: 200, summary: 'List the extra specs of a volume type',
      handler: async (req, res) => { res.json({ extra_specs: (await typeOfPath(deps, req)).extraSpecs }); },
    },
    {
      method: 'post', path: '/types/:type_id/extra_specs', versioned: true, policy: 'volume_extension:types_extra_specs:create', status: 200, summary: 'Set extra specs of a volume type (admin; refused unless every spec is honoured here)',
      handler: async (req, res) => {
        const { extra_specs } = parse(specsBody, req.body, 'body');
        const type = await typeOfPath(deps, req);
        await setExtraSpecs(deps, type, extra_specs);
        res.json({ extra_specs });
      },
    },
    {
      method: 'get', path: '/types/:type_id/extra_specs/:key', versioned: true, policy: 'volume_extension:types_extra_specs:show', status: 200, summary: 'Show one extra spec of a volume type',
      handler: async (req, res) => {
        parse(noQuery, req.query, 'query');
        const { type_id, key } = parse(specPath, req.params, 'path');
        scopedProject(req);
        const type = await visibleType(deps, callerOf(req), type_id);
        // Own keys only: `constructor` or `toString` would otherwise find Object.prototype's members.
        const value = Object.hasOwn(type.extraSpecs, key) ? type.extraSpecs[key] : undefined;
        if (value === undefined) throw new StorageError('NOT_FOUND', `volume type ${type.id} has no extra spec ${key}`, { details: { volume_type_id: type.id, key } });
        res.json({ [key]: value });
      },
    },
    {
      method: 'put', path: '/types/:type_id/extra_specs/:key', versioned: true, policy: 'volume_extension:types_extra_specs:update', status: 200, summary: 'Set one extra spec of a volume type (admin)',
      handler: async (req, res) => {
        parse(noQuery, req.query, 'query');
        const { type_id, key } = parse(specPath, req.params, 'path');
        const body = parse(specBody, req.body, 'body');
        if (!(key in body)) throw new StorageError('INVALID_INPUT', `the body must hold the key of the path (${key})`);
        scopedProject(req);
        await setExtraSpecs(deps, await visibleType(deps, callerOf(req), type_id), body);
        res.json(body);
      },
    },
    {
      method: 'delete', path: '/types/:type_id/extra_specs/:key', versioned: true, policy: 'volume_extension:types_extra_specs:delete', status: 202, summary: 'Unset one extra spec of a volume type (admin)',
      handler: async (req, res) => {
        parse(noQuery, req.query, 'query');
        const { type_id, key } = parse(specPath, req.params, 'path');
        scopedProject(req);
        await unsetExtraSpec(deps, await visibleType(deps, callerOf(req), type_id), key);
        res.status(202).end();
      },
    },
  ];
}
