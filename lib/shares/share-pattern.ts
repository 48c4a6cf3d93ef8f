/**
 * A volume type's share selection (extra spec `qcowshare:share`): a share address, or a pattern
 * in which `*` stands for any run of characters ("gluster1:/*", "*ssd*"). Matched against the
 * configured address exactly as written; nothing else is special, so an address with dots or
 * slashes needs no escaping.
 */
export function sharePatternMatches(pattern: string, address: string): boolean {
  const parts = pattern.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\/]/g, '\\$&'));
  return new RegExp(`^${parts.join('.*')}$`).test(address);
}
