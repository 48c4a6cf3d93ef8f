/**
 * Where an imported instance's definition lives on its share, for both sides: the storage
 * service's import writes it (after checking it as hostile XML), and a compute host's coordinator
 * defines the instance from it when asked to place the instance stopped (os-define).
 */
import path from 'node:path';

/** The share directory of instances' checkpoint files (the coordinator's CHECKPOINTS_DIR). */
export const INSTANCES_DIR = 'checkpoints';
/** In an imported instance's directory: its definition as imported, for the step that defines it. */
export const IMPORTED_DEFINITION_FILE = 'imported.domain.xml';

export function importedDefinitionPath(shareMount: string, instanceUuid: string): string {
  return path.join(shareMount, INSTANCES_DIR, instanceUuid.toLowerCase(), IMPORTED_DEFINITION_FILE);
}
