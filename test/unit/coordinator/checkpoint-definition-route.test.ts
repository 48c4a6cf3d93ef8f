/** The coordinator's answer to the storage side's instance export: the persistent definition (never the SECURE form) and whether it is shut off. */
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import express from 'express';
import supertest from 'supertest';
import { KeyedMutex } from '../../../lib/core/keyed-mutex.js';
import { logger } from '../../../lib/core/logger.js';
import { DomainState, DomainXmlFlags } from '../../../lib/libvirt/constants.js';
import { withCheckpointRoutes } from '../../../coordinator/checkpoint/routes.js';
import type { CheckpointDeps, CheckpointLibvirt } from '../../../coordinator/checkpoint/runner.js';

describe('coordinator: GET /v1/instances/{uuid}/definition', () => {
  const TOKEN = `t-${randomUUID()}`;
  const uuid = randomUUID();
  let state: number = DomainState.RUNNING;
  const flagsSeen: (number | undefined)[] = [];
  const libvirt = {
    lookupByUuid: async (u: string) => ({ name: 'vm', uuid: u, id: 1 }),
    getState: async () => ({ state, reason: 0 }),
    getXmlDesc: async (_d: unknown, flags?: number) => { flagsSeen.push(flags); return `<domain><uuid>${uuid}</uuid></domain>`; },
  } as unknown as CheckpointLibvirt;
  const deps: CheckpointDeps = { libvirt, shareMount: '/nonexistent', makeOverlay: () => { throw new Error('no overlay expected'); } };
  const api = supertest(withCheckpointRoutes(express(), deps, new KeyedMutex(), TOKEN, logger('test')));

  it('answers the inactive definition and the state, only with the service token', async () => {
    await api.get(`/v1/instances/${uuid}/definition`).expect(401);
    const running = await api.get(`/v1/instances/${uuid}/definition`).set('x-auth-token', TOKEN).expect(200);
    expect(running.body.instance).to.deep.equal({ uuid, state: 'active', definition: `<domain><uuid>${uuid}</uuid></domain>` });
    state = DomainState.SHUTOFF;
    expect((await api.get(`/v1/instances/${uuid}/definition`).set('x-auth-token', TOKEN).expect(200)).body.instance.state).to.equal('shutoff');
    expect(flagsSeen).to.deep.equal([DomainXmlFlags.INACTIVE, DomainXmlFlags.INACTIVE]);
    await api.get('/v1/instances/not-a-uuid/definition').set('x-auth-token', TOKEN).expect(400);
  });
});
