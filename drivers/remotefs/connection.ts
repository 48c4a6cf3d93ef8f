/**
 * Connection info for a compute host, in Cinder's shape (connection_info.data of the NFS and
 * GlusterFS drivers): the host mounts `export` at `<mount_point_base>/<share_hash>` and opens
 * `name` there with the explicit `format`. A local share (embedded mode) is the directory `export`.
 */
import path from 'node:path';
import { shareHash } from '../../lib/core/share-hash.js';
import type { Share } from '../../lib/shares/index.js';
import type { ConnectionInfo, VolumeFormat } from '../contract/volume-driver.js';

export function connectionInfo(share: Share, mountBase: string, activeFile: string, format: VolumeFormat): ConnectionInfo {
  return {
    driver_volume_type: share.type,
    data: {
      export: share.address,
      name: activeFile,
      format,
      options: share.mountOptions.length > 0 ? [...share.mountOptions] : null,
      // Remote shares: <base>/<hash>/<name>. A local share has no mount: <export>/<name>.
      mount_point_base: path.resolve(mountBase),
      share_hash: shareHash(share.address),
      qos_specs: null,
      access_mode: 'rw',
    },
  };
}
