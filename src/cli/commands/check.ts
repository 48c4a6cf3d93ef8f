/** `check [--repair] [volume]`: the service's consistency check; exit code 1 while divergences remain. */
import type { Command } from 'commander';
import type { ApiClient } from '../client.js';
import { table } from '../render.js';
import { type Output, print } from './output.js';

interface CheckBody {
  check: {
    consistent: boolean;
    divergences: Record<string, unknown>[];
    repairs: Record<string, unknown>[];
    busy: string[];
  };
}

function human(c: CheckBody['check']): string {
  const parts: string[] = [];
  if (c.repairs.length > 0) parts.push('repairs:', table(c.repairs, ['code', 'volume_id', 'file', 'result', 'details']));
  if (c.busy.length > 0) parts.push(`busy (not compared, lease held): ${c.busy.join(', ')}`);
  if (c.divergences.length === 0) parts.push('consistent: 0 divergences');
  else parts.push(`${c.divergences.length} divergence(s):`, table(c.divergences, ['code', 'volume_id', 'snapshot_id', 'file', 'message', 'action']));
  return parts.join('\n');
}

export function checkCommands(program: Command, client: () => ApiClient, out: () => Output): void {
  program.command('check [volume]')
    .description('compare the database, info files, shares, images and hosts; report divergences with stable codes (admin)')
    .option('--repair', 'repair what is provably safe (orphan files, leaked clusters, ghost rows, stuck operations), then check again')
    .action(async (volume: string | undefined, o: { repair?: boolean }) => {
      const path = volume === undefined ? '/v3/os-check' : `/v3/volumes/${encodeURIComponent(volume)}/os-check`;
      const { body } = await client().call<CheckBody>('POST', path, { check: { repair: o.repair ?? false } });
      print(out(), body, () => human(body.check));
      if (!body.check.consistent) process.exitCode = 1;
    });
}
