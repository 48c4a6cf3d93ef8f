/**
 * Cinder v3 actions this service does not implement. A body naming one of them is refused with
 * ACTION_NOT_SUPPORTED and the action's name, so that a client learns "not supported here" rather
 * than "malformed body" (Cinder's own names, from its volume and snapshot action controllers).
 */
export const UNSUPPORTED_VOLUME_ACTIONS: readonly string[] = [
  'os-retype', 'os-migrate_volume', 'os-migrate_volume_completion', 'os-volume_upload_image',
  'os-set_bootable', 'os-update_readonly_flag', 'os-set_image_metadata', 'os-unset_image_metadata',
  'os-show_image_metadata',
  'os-reimage', 'os-extend_volume_completion', 'os-enable_replication', 'os-disable_replication',
  'os-failover_replication', 'os-list_replication_targets',
];

// Snapshots are unmanaged with their volume (os-unmanage of the volume), not one by one.
export const UNSUPPORTED_SNAPSHOT_ACTIONS: readonly string[] = ['os-unmanage'];
