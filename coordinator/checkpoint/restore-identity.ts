/**
 * What a restore must keep of a memory file's own definition: libvirt checks the definition it is
 * given against the image's (virDomainDefCheckABIStability) and refuses another domain uuid or
 * another serial on a disk ("Target domain uuid ... does not match source", "Target disk serial
 * ..."), while disk sources may change. An imported checkpoint's image names the ids it was
 * imported under (the import writes its placed definition into the image's header); one imported
 * with new ids before that still names the source's, and no restore of it can work. Found here
 * before anything changes, not from libvirt after the guest was destroyed. Pure.
 */
import { parseDomainXml } from '../domain/disks.js';

/** The first identity the given definition changes against the image's, in words; null when none. */
export function restoreIdentityDifference(imageXml: string, givenXml: string): string | null {
  const image = parseDomainXml(imageXml);
  const given = parseDomainXml(givenXml);
  if (image.uuid.toLowerCase() !== given.uuid.toLowerCase()) return `its memory file was saved as instance ${image.uuid}, not ${given.uuid}`;
  for (const disk of image.disks) {
    const other = given.disks.find((d) => d.target === disk.target);
    if (other && (other.serial ?? '').toLowerCase() !== (disk.serial ?? '').toLowerCase()) {
      return `its memory file was saved with disk ${disk.target} of serial ${disk.serial ?? '(none)'}, not ${other.serial ?? '(none)'}`;
    }
  }
  return null;
}
