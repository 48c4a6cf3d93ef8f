/**
 * A loaded driver as the storage service holds it: the core contract and whichever optional
 * capabilities it implements. Each capability's picker (snapshotMetadataSupport, interruptedSupport,
 * adoptSupport, consistencySupport) answers whether the driver has it.
 */
import type { AdoptSupport } from './adopt-support.js';
import type { ConsistencySupport } from './consistency-support.js';
import type { InterruptedSupport } from './interrupted-support.js';
import type { SnapshotMetadataSupport } from './snapshot-metadata-support.js';
import type { VolumeDriver } from './volume-driver.js';

export type HostedDriver = VolumeDriver & Partial<SnapshotMetadataSupport & InterruptedSupport & AdoptSupport & ConsistencySupport>;
