/**
 * The registry of compute hosts (admin): `host register <name> --endpoint <url> --credential-file <f>`,
 * `host list`, `host show <name>`, `host remove <name>`. The credential (the coordinator's inbound
 * token, e.g. its <stateDir>/inbound-token file) is read from a file, never taken as an argument,
 * so it does not show in process listings or shell history; it is never printed.
 */
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import type { ApiClient } from '../client.js';
import { table } from '../render.js';
import { type Output, print } from './output.js';

const COLUMNS = ['host_name', 'coordinator_endpoint', 'updated_at', 'last_heartbeat_at'];
const hostPath = (name: string) => `/v3/os-compute-hosts/${encodeURIComponent(name)}`;

export function hostCommands(program: Command, client: () => ApiClient, out: () => Output): void {
  const host = program.command('host').description('registry of compute hosts (the only coordinators the service calls)');
  host.command('register <name>').description('register or update a compute host (admin)')
    .requiredOption('--endpoint <url>', 'its coordinator\'s URL (http or https)')
    .requiredOption('--credential-file <file>', 'file holding the token the coordinator accepts (its inboundToken)')
    .action(async (name: string, o: { endpoint: string; credentialFile: string }) => {
      const credential = (await readFile(o.credentialFile, 'utf8')).trim();
      const { status, body } = await client().call<{ compute_host: Record<string, unknown> }>('PUT', hostPath(name), {
        compute_host: { coordinator_endpoint: o.endpoint, credential },
      });
      print(out(), body, () => `${status === 201 ? 'registered' : 'updated'} ${name}\n${table([body.compute_host], COLUMNS)}`);
    });
  host.command('list').description('list registered compute hosts (admin)').action(async () => {
    const { body } = await client().call<{ compute_hosts: Record<string, unknown>[] }>('GET', '/v3/os-compute-hosts');
    print(out(), body, () => table(body.compute_hosts, COLUMNS));
  });
  host.command('show <name>').description('show a compute host').action(async (name: string) => {
    const { body } = await client().call<{ compute_host: Record<string, unknown> }>('GET', hostPath(name));
    print(out(), body, () => table([body.compute_host], COLUMNS));
  });
  host.command('remove <name>').description('remove a compute host (its attachments\' live operations are then refused)').action(async (name: string) => {
    await client().call('DELETE', hostPath(name));
    print(out(), { removed: name }, () => `removed ${name}`);
  });
}
