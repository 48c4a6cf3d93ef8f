/**
 * An environment a lane of runs uses: its own share (a size-limited tmpfs, or a GlusterFS volume),
 * its own database and its own service process, restarted after each SIGKILL.
 */
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { run } from '../../lib/core/process.js';
import { Api } from './api.js';
import { startService, type ServiceHandle } from './service.js';

export interface Env {
  name: string;
  /** Where the campaign sees the share's files. */
  share: string;
  api(): Api;
  service(): ServiceHandle;
  /** A new service process (after a kill); waits for nothing else. */
  restart(): Promise<void>;
  close(): Promise<void>;
}

export interface EnvOptions {
  dir: string;
  name: string;
  db: Record<string, unknown>;
  /** A tmpfs of this size as the share. */
  tmpfsMiB?: number;
  /** Or a GlusterFS volume: its address for the service, and a mount of it for the campaign's reads. */
  gluster?: { address: string; mountPoint: string };
}

export async function openEnv(o: EnvOptions): Promise<Env> {
  const dir = path.join(o.dir, o.name);
  await mkdir(dir, { recursive: true });
  let share: string;
  let mounted = false;
  if (o.gluster) {
    share = o.gluster.mountPoint;
  } else {
    share = path.join(dir, 'share');
    await mkdir(share);
    await run('mount', ['-t', 'tmpfs', '-o', `size=${o.tmpfsMiB ?? 256}m,mode=0755`, `qcs-campaign-${o.name}`, share]);
    mounted = true;
  }
  const shareConfig = o.gluster ? { type: 'glusterfs' as const, address: o.gluster.address } : { type: 'local' as const, address: share };
  let generation = 0;
  const launch = () => startService({ dir, name: `service-${generation++}`, db: o.db, share: shareConfig });
  let svc = await launch();
  let api = new Api(svc.url);
  return {
    name: o.name, share,
    api: () => api,
    service: () => svc,
    restart: async () => {
      await svc.kill();
      svc = await launch();
      api = new Api(svc.url);
    },
    close: async () => {
      await svc.kill();
      if (mounted) await run('umount', [share], { allowFailure: true }).then((r) => (r.exitCode === 0 ? r : run('umount', ['-l', share])));
      await rm(path.join(dir, 'mnt'), { recursive: true, force: true }).catch(() => undefined);
    },
  };
}
