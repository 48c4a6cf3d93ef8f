import type { Model, ModelStatic, Sequelize } from 'sequelize';
import { defineAttachment } from './attachment.js';
import { defineLease } from './lease.js';
import { defineOperation } from './operation.js';
import { defineSnapshot } from './snapshot.js';
import { defineVolume } from './volume.js';

export interface Models {
  Volume: ModelStatic<Model>;
  Snapshot: ModelStatic<Model>;
  Attachment: ModelStatic<Model>;
  Operation: ModelStatic<Model>;
  Lease: ModelStatic<Model>;
}

export function defineModels(sequelize: Sequelize): Models {
  return {
    Volume: defineVolume(sequelize),
    Snapshot: defineSnapshot(sequelize),
    Attachment: defineAttachment(sequelize),
    Operation: defineOperation(sequelize),
    Lease: defineLease(sequelize),
  };
}
