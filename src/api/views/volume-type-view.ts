/** Volume types in Cinder v3 shape. */
import type { VolumeTypeRecord } from '../../db/repositories/volume-types.js';

export function volumeTypeView(t: VolumeTypeRecord): Record<string, unknown> {
  return {
    id: t.id, name: t.name, description: t.description, is_public: t.isPublic, 'os-volume-type-access:is_public': t.isPublic,
    extra_specs: t.extraSpecs, qos_specs_id: null,
  };
}
