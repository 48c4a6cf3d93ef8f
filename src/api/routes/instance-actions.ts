/**
 * Actions on an instance the storage side knows from an instance import (issue 15 item 4), admin
 * only, in Cinder's action shape (one key naming the action):
 *   os-define {host}  the imported instance defined stopped on a registered compute host from its
 *                     imported definition, its volumes attached there (usecases/instances/instance-define.ts)
 */
import { z } from 'zod';
import { callerOf, scopedProject } from '../auth.js';
import type { ServiceDeps } from '../context.js';
import { defineImportedInstance } from '../usecases/instances/instance-define.js';
import { noQuery, uuid } from '../validation/common.js';
import { parse } from '../validation/parse.js';
import type { RouteDef } from './route.js';

const instancePath = z.strictObject({ project_id: z.string().optional(), instance_uuid: uuid });
const actionBody = z.strictObject({ 'os-define': z.strictObject({ host: z.string().min(1).max(255) }) });

export function instanceActionRoutes(deps: ServiceDeps): RouteDef[] {
  return [
    {
      method: 'post', path: '/os-instances/:instance_uuid/action', versioned: true, policy: 'qcowshare:instance:define', status: 200,
      summary: 'Define an imported instance stopped on a registered compute host, its volumes attached there: {"os-define": {"host": compute host}} (admin)',
      handler: async (req, res) => {
        const { instance_uuid } = parse(instancePath, req.params, 'path');
        parse(noQuery, req.query, 'query');
        const body = parse(actionBody, req.body, 'body');
        scopedProject(req);
        const got = await defineImportedInstance(deps, callerOf(req), instance_uuid.toLowerCase(), body['os-define'].host);
        res.status(200).json({
          instance: {
            instance_uuid: got.instanceUuid, host_name: got.host, state: 'shutoff',
            volumes: got.volumes.map((v) => ({ volume_id: v.volumeId, target: v.target, active_file: v.activeFile })),
          },
        });
      },
    },
  ];
}
