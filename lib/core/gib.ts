/** The unit the API reports sizes in, shared by the driver and the service's consistency check. */
export const GiB = 1024 ** 3;

/** GiB as reported to the API for a byte size (rounded up, as Cinder does for managed volumes). */
export function giBFromBytes(sizeBytes: number): number {
  return Math.ceil(sizeBytes / GiB);
}
