/**
 * The extra specs a volume type may carry, and what each means here (pure: no database, no
 * driver). A spec this service cannot honour is refused, when it is set and again when a create
 * would apply it (the configuration may have changed in between): never ignored.
 *
 *   volume_backend_name      must be this service's backend (its driver's name)
 *   qcowshare:format         qcow2 | raw
 *   qcowshare:preallocation  off | metadata | falloc | full (qemu-img's; raw has no metadata to preallocate)
 *   qcowshare:share          a share address or a `*` pattern; it must match a configured share
 */
import { StorageError } from '../../../../lib/core/errors.js';
import { sharePatternMatches } from '../../../../lib/shares/share-pattern.js';
import type { CreateVolumeRequest, VolumeFormat } from '../../../../drivers/contract/volume-driver.js';

export const SPEC = {
  backend: 'volume_backend_name',
  format: 'qcowshare:format',
  preallocation: 'qcowshare:preallocation',
  share: 'qcowshare:share',
} as const;

const FORMATS: readonly string[] = ['qcow2', 'raw'];
const PREALLOCATIONS: readonly string[] = ['off', 'metadata', 'falloc', 'full'];

export interface SpecContext {
  /** This service's volume_backend_name. */
  backendName: string;
  /** storage.volumeFormat: the format when the type names none. */
  defaultFormat: VolumeFormat;
  /** The configured shares' addresses. */
  shareAddresses: readonly string[];
}

/** What a type's specs change in a create request. */
export type AppliedSpecs = Pick<CreateVolumeRequest, 'format' | 'preallocation' | 'sharePattern'>;

function unsupported(key: string, value: string, why: string): StorageError {
  return new StorageError('VOLUME_TYPE_SPEC_UNSUPPORTED', `extra spec ${key}=${JSON.stringify(value)} is not supported: ${why}`, { details: { spec: key, value } });
}

/** The request fields the specs set; throws VOLUME_TYPE_SPEC_UNSUPPORTED for the first spec it cannot honour. */
export function applySpecs(specs: Readonly<Record<string, string>>, ctx: SpecContext): AppliedSpecs {
  const out: AppliedSpecs = {};
  for (const [key, value] of Object.entries(specs)) {
    switch (key) {
      case SPEC.backend:
        if (value !== ctx.backendName) throw unsupported(key, value, `this service's backend is ${JSON.stringify(ctx.backendName)}`);
        break;
      case SPEC.format:
        if (!FORMATS.includes(value)) throw unsupported(key, value, `the format is one of ${FORMATS.join(', ')}`);
        out.format = value as VolumeFormat;
        break;
      case SPEC.preallocation:
        if (!PREALLOCATIONS.includes(value)) throw unsupported(key, value, `preallocation is one of ${PREALLOCATIONS.join(', ')}`);
        out.preallocation = value as AppliedSpecs['preallocation'];
        break;
      case SPEC.share:
        if (value === '' || !ctx.shareAddresses.some((a) => sharePatternMatches(value, a))) {
          throw unsupported(key, value, `no configured share matches (shares: ${ctx.shareAddresses.join(', ')})`);
        }
        out.sharePattern = value;
        break;
      default:
        throw unsupported(key, value, `known keys are ${Object.values(SPEC).join(', ')}`);
    }
  }
  if ((out.format ?? ctx.defaultFormat) === 'raw' && out.preallocation === 'metadata') {
    throw unsupported(SPEC.preallocation, 'metadata', 'a raw volume has no metadata to preallocate (use falloc or full)');
  }
  return out;
}
