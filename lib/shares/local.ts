/**
 * A local directory as a share: the embedded default (no mount, no daemon). Created if missing.
 */
import { mkdir, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Share, ShareSpace } from './share.js';
import { shareSpace } from './statfs.js';

export class LocalShare implements Share {
  readonly type = 'local' as const;
  readonly mountPoint: string;
  readonly mountOptions: readonly string[] = [];

  constructor(readonly address: string) {
    this.mountPoint = path.resolve(address);
  }

  async ensureMounted(): Promise<boolean> {
    await mkdir(this.mountPoint, { recursive: true });
    return false;
  }

  async unmount(): Promise<void> {
    // nothing is mounted
  }

  async isMounted(): Promise<boolean> {
    const st = await stat(this.mountPoint).catch(() => null);
    return st !== null && st.isDirectory();
  }

  statfs(): Promise<ShareSpace> {
    return shareSpace(this.mountPoint);
  }
}
