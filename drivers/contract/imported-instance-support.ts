/**
 * Optional driver capability: what the storage service needs to define an imported instance
 * stopped (os-define) when it has no checkpoint to restore: the disks of the definition the
 * instance import placed on the share (each a target and the volume id its serial names). The
 * definition itself stays on the share; the compute host's coordinator defines it from there.
 */
export interface ImportedDisk {
  target: string;
  volumeId: string;
}

export interface ImportedInstanceSupport {
  /** The imported definition's disks, or null when no share holds an imported definition of the instance. */
  importedInstanceDisks(instanceUuid: string): Promise<ImportedDisk[] | null>;
}

export function importedInstanceSupport(driver: object): ImportedInstanceSupport | null {
  const d = driver as Partial<ImportedInstanceSupport>;
  return d.importedInstanceDisks ? { importedInstanceDisks: d.importedInstanceDisks.bind(driver) } : null;
}
