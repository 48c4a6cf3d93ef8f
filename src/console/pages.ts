/**
 * The console's HTML, rendered on the server (pure functions of the page data). Every value
 * from the database, a share or a user goes through escape-html; the only script is
 * /console/static/console.js (the CSP allows nothing else), which adds live operation progress
 * and is not needed for anything else: forms, links and confirmations work without it.
 */
import escapeHtml from 'escape-html';
import type { CheckpointRow } from '../db/index.js';
import type { OperationRecord } from '../db/records.js';
import type { Caller } from '../api/context.js';
import type { OperationsPage, SystemPage, VolumeList, VolumePage, VolumeRow } from './data.js';
import { bytes, shortId, when } from './format.js';
import { layoutTree } from './tree-layout.js';
import { treeSvg } from './tree-svg.js';
import { DEFAULT_PAGE, VOLUME_STATUSES, volumeListHref, type VolumeListQuery } from './volume-list-query.js';

const h = escapeHtml;

export interface Shell {
  title: string;
  caller: Caller | null;
  csrf: string;
  body: string;
  current?: 'volumes' | 'operations' | 'system';
}

export function page(s: Shell): string {
  const nav = s.caller === null ? '' : `<nav aria-label="Console"><a href="/console/volumes"${s.current === 'volumes' ? ' aria-current="page"' : ''}>Volumes</a>
<a href="/console/operations"${s.current === 'operations' ? ' aria-current="page"' : ''}>Operations</a>
<a href="/console/system"${s.current === 'system' ? ' aria-current="page"' : ''}>Capacity and health</a>
<span class="who">${h(s.caller.userId)} · project ${h(s.caller.projectId)} · ${h([...s.caller.roles].join(', '))}</span>
<form method="post" action="/console/logout" class="inline">${csrfField(s.csrf)}<button type="submit">Log out</button></form></nav>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${h(s.title)} · qcowshare console</title><link rel="stylesheet" href="/console/static/console.css">
<script src="/console/static/console.js" defer></script></head>
<body><header><span class="brand">qcowshare</span>${nav}</header><main id="main"><h1>${h(s.title)}</h1>
${s.body}</main></body></html>`;
}

export function csrfField(csrf: string): string {
  return `<input type="hidden" name="csrf" value="${h(csrf)}">`;
}

export function loginBody(message: string | null): string {
  return `${message ? `<p class="error" role="alert">${h(message)}</p>` : ''}
<form method="post" action="/console/login" class="login">
<label for="token">API token</label>
<input id="token" name="token" type="password" autocomplete="off" required>
<p class="hint">The token you give the API as X-Auth-Token (Keystone: <code>openstack token issue</code>). It is kept in an HttpOnly cookie for this site only.</p>
<button type="submit">Log in</button></form>`;
}

function attachmentText(r: VolumeRow): string {
  if (r.attachments.length === 0) return 'not attached';
  return r.attachments.map((a) => `${a.host ?? '?'}${a.instanceUuid ? ` (${shortId(a.instanceUuid)})` : ''}`).join(', ');
}

/** The filter form: a GET form (the filters are in the address, so a filtered page can be bookmarked). */
function volumeFilterForm(q: VolumeListQuery, projectFilter: boolean): string {
  const options = ['', ...VOLUME_STATUSES].map((st) => `<option value="${h(st)}"${(q.status ?? '') === st ? ' selected' : ''}>${st === '' ? 'any' : h(st)}</option>`).join('');
  return `<form method="get" action="/console/volumes" class="filters" role="search" aria-label="Filter the volumes">
<label for="f-name">Name (exact)</label> <input id="f-name" name="name" maxlength="255" value="${h(q.name ?? '')}">
<label for="f-status">Status</label> <select id="f-status" name="status">${options}</select>
${projectFilter ? `<label for="f-project">Project</label> <input id="f-project" name="project" maxlength="255" value="${h(q.project ?? '')}">` : ''}
${q.limit !== DEFAULT_PAGE ? `<input type="hidden" name="limit" value="${q.limit}">` : ''}<button type="submit">Filter</button>
${q.name !== undefined || q.status !== undefined || q.project !== undefined ? ' <a href="/console/volumes">Clear the filters</a>' : ''}</form>`;
}

function pager(list: VolumeList, q: VolumeListQuery): string {
  const first = q.marker !== undefined ? `<a href="${h(volumeListHref(q))}" rel="first">First page</a>` : '';
  const next = list.next !== null ? `<a href="${h(volumeListHref(q, list.next))}" rel="next">Next page</a>` : '';
  return first || next ? `<nav class="pager" aria-label="Pages of volumes">${first} ${next}</nav>` : '';
}

/** `projectFilter`: the caller may list other projects (admins). */
export function volumesBody(list: VolumeList, q: VolumeListQuery, projectFilter: boolean): string {
  const form = volumeFilterForm(q, projectFilter);
  if (list.rows.length === 0) return `${form}<p>No volumes${list.total === 0 && q.marker === undefined ? '' : ' on this page'}.</p>${pager(list, q)}`;
  const tr = list.rows.map((r) => `<tr data-volume-id="${h(r.volume.id)}"><td><a href="/console/volumes/${h(r.volume.id)}">${h(r.volume.name ?? shortId(r.volume.id))}</a></td>
<td>${h(r.volume.status)}</td><td>${r.volume.sizeGiB} GiB</td><td>${h(bytes(r.allocated))}</td><td>${h(r.share ?? '—')}</td>
<td>${h(attachmentText(r))}</td><td>${h(r.volume.projectId)}</td></tr>`).join('\n');
  const caption = `Volumes you can see, newest first: ${list.rows.length} on this page of ${list.total} matching`;
  return `${form}<table class="volumes" data-total="${list.total}"><caption>${h(caption)}</caption><thead><tr><th scope="col">Name</th><th scope="col">Status</th><th scope="col">Size</th>
<th scope="col">Allocated</th><th scope="col">Share</th><th scope="col">Attachment</th><th scope="col">Project</th></tr></thead><tbody>${tr}</tbody></table>${pager(list, q)}`;
}

function previewText(p: NonNullable<VolumePage['preview']>): string {
  if (p.refused) return `Deleting it is refused: ${p.refused.message} (${p.refused.code}).`;
  switch (p.action) {
    case 'remove': return `Deleting it removes its file ${p.file_removed ?? ''} (nothing depends on it); no data moves.`;
    case 'hide': return 'Two or more files depend on it: deleting it hides it (kept on the share until only one depends on it); no data moves now.';
    case 'none': return 'It is already hidden or gone: deleting it changes nothing.';
    case 'merge': return p.direction === 'commit'
      ? `Deleting it merges by commit: the newer file's data (${bytes(p.bytes_to_move)}) is written into this snapshot's file, then ${p.file_removed ?? 'the newer file'} is removed.`
      : `Deleting it merges by pull: this snapshot's data (${bytes(p.bytes_to_move)}) is copied into the file above it, then ${p.file_removed ?? 'its file'} is removed.`;
  }
}

function operationRow(o: OperationRecord): string {
  return `<tr data-operation-id="${h(o.id)}" data-state="${h(o.state)}"><td>${h(o.kind)}</td><td><a href="/console/volumes/${h(o.volumeId)}">${h(shortId(o.volumeId))}</a></td>
<td class="state">${h(o.state)}</td><td><progress max="100" value="${o.progress}" aria-label="progress of ${h(o.kind)} ${h(shortId(o.id))}">${o.progress}%</progress> <span class="pct">${o.progress}%</span></td>
<td>${h(when(o.startedAt.toISOString()))}</td><td class="message">${h(o.error ?? '')}</td></tr>`;
}

export function operationTable(ops: OperationRecord[], caption: string, live: boolean): string {
  return `<table class="operations"${live ? ' data-live="running"' : ''}><caption>${h(caption)}</caption><thead><tr><th scope="col">Kind</th><th scope="col">Volume</th><th scope="col">State</th>
<th scope="col">Progress</th><th scope="col">Started</th><th scope="col">Message</th></tr></thead><tbody>${ops.map(operationRow).join('\n')}</tbody></table>`;
}

export function volumeBody(p: VolumePage, csrf: string, canWrite: boolean): string {
  const v = p.row.volume;
  const facts = `<dl class="facts"><dt>Status</dt><dd>${h(v.status)}</dd><dt>Size</dt><dd>${v.sizeGiB} GiB</dd><dt>Allocated</dt><dd>${h(bytes(p.row.allocated))}</dd>
<dt>Share</dt><dd>${h(p.row.share ?? '—')}</dd><dt>Attachment</dt><dd>${h(attachmentText(p.row))}</dd><dt>Project</dt><dd>${h(v.projectId)}</dd><dt>Id</dt><dd><code>${h(v.id)}</code></dd></dl>`;
  let picture = '<p>The snapshot tree is not available.</p>';
  if (p.tree !== null) {
    const layout = layoutTree(p.tree, p.checkpointOf);
    picture = `<figure class="tree-figure"><figcaption>Snapshot tree: the root file at the top, the active file marked; hidden snapshots dashed; Tab moves between nodes, Enter selects one.</figcaption>
<div class="tree-scroll">${treeSvg(layout, {
      hrefOf: (n) => (n.kind === 'snapshot' ? `/console/volumes/${v.id}?snapshot=${n.id}#selection` : null),
      selected: p.selected?.id ?? null, activeFile: p.tree.active_file, activeSizeGiB: v.sizeGiB, activeAllocated: p.tree.active_allocated_size,
    })}</div>
<p class="legend"><span class="key active">active file</span> <span class="key snapshot">snapshot</span> <span class="key hidden">hidden snapshot</span> <span class="key checkpoint">checkpoint</span></p></figure>`;
  }
  let selection = '';
  if (p.selected !== null) {
    const s = p.selected;
    const forms = canWrite && !s.hidden ? `<form method="post" action="/console/snapshots/${h(s.id)}/delete">${csrfField(csrf)}<button type="submit">Delete snapshot…</button></form>
<form method="post" action="/console/volumes/${h(v.id)}/revert">${csrfField(csrf)}<input type="hidden" name="snapshot_id" value="${h(s.id)}"><button type="submit">Revert the volume to it…</button></form>` : '';
    selection = `<section id="selection" aria-labelledby="selection-title"><h2 id="selection-title">Snapshot ${h(s.name ?? shortId(s.id))}</h2>
<p>Taken ${h(when(s.createdAt.toISOString()))}, ${s.sizeGiB} GiB, status ${h(s.hidden ? 'hidden' : s.status)}.</p>
${p.preview ? `<p class="preview" data-action="${h(p.preview.action)}" data-direction="${h(p.preview.direction ?? '')}" data-bytes="${p.preview.bytes_to_move ?? ''}">${h(previewText(p.preview))}</p>` : ''}
${forms}</section>`;
  }
  const actions = canWrite ? `<section aria-labelledby="actions-title"><h2 id="actions-title">Actions</h2>
<form method="post" action="/console/volumes/${h(v.id)}/snapshot">${csrfField(csrf)}<label for="snap-name">Snapshot name</label> <input id="snap-name" name="name" maxlength="255"> <button type="submit">Take snapshot…</button></form>
<form method="post" action="/console/volumes/${h(v.id)}/extend">${csrfField(csrf)}<label for="new-size">New size (GiB)</label> <input id="new-size" name="new_size" type="number" min="${v.sizeGiB + 1}" required> <button type="submit">Extend…</button></form>
<form method="post" action="/console/volumes/${h(v.id)}/delete">${csrfField(csrf)}<button type="submit">Delete volume…</button></form></section>` : '';
  const ops = p.operations.length > 0 ? `<section aria-labelledby="ops-title"><h2 id="ops-title">Recent operations</h2>${operationTable(p.operations, 'Operations on this volume', true)}</section>` : '';
  return `${facts}${picture}${checkpointsOfVolume(p)}${selection}${actions}${ops}`;
}

/** The volume's checkpoints: each one's point of this volume, and whether the picture draws it. */
function checkpointsOfVolume(p: VolumePage): string {
  if (p.checkpoints === null || p.checkpoints.length === 0) return '';
  const v = p.row.volume;
  const drawn = new Map<string, string[]>();
  for (const [snap, c] of p.checkpointOf) drawn.set(c, [...(drawn.get(c) ?? []), snap]);
  const rows = p.checkpoints.map((c) => {
    const points = c.volumes.filter((x) => x.volumeId === v.id).map((x) => `<code>${h(x.snapshotPoint)}</code>`);
    const progress = c.status === 'available' ? 100 : c.progress;
    const at = drawn.get(c.id) ?? [];
    const where = at.length > 0 ? at.map((id) => `<a href="/console/volumes/${h(v.id)}?snapshot=${h(id)}#selection">${h(shortId(id))}</a>`).join(', ') : 'not in the tree';
    return `<tr data-checkpoint-id="${h(c.id)}" data-state="${h(c.status)}" data-drawn="${h(at.join(' '))}"><td>${h(c.name ?? shortId(c.id))}</td><td>${h(c.status)}</td>
<td><progress max="100" value="${progress}" aria-label="progress of checkpoint ${h(c.name ?? shortId(c.id))}">${progress}%</progress> <span class="pct">${progress}%</span></td>
<td>${points.length > 0 ? points.join('<br>') : '—'}</td><td>${where}</td><td>${h(when(c.createdAt.toISOString()))}</td></tr>`;
  }).join('\n');
  return `<section aria-labelledby="checkpoints-title"><h2 id="checkpoints-title">Checkpoints of its instance</h2>
<table class="checkpoints"><caption>Checkpoints (memory and disks) this volume is a member of, newest first</caption><thead><tr><th scope="col">Name</th><th scope="col">Status</th>
<th scope="col">Progress</th><th scope="col">This volume's points</th><th scope="col">In the tree</th><th scope="col">Taken</th></tr></thead><tbody>${rows}</tbody></table></section>`;
}

export function confirmBody(question: string, warnings: string[], action: string, fields: Record<string, string>, csrf: string, back: string): string {
  const hidden = Object.entries(fields).map(([k, val]) => `<input type="hidden" name="${h(k)}" value="${h(val)}">`).join('');
  return `<p>${h(question)}</p>${warnings.map((w) => `<p class="warning" role="alert">${h(w)}</p>`).join('')}
<form method="post" action="${h(action)}">${csrfField(csrf)}${hidden}<input type="hidden" name="confirm" value="yes">
<button type="submit" class="danger" autofocus>Confirm</button> <a href="${h(back)}">Cancel</a></form>`;
}

/** Checkpoints (taken, reverted, deleted by the instance's host) with their own progress, updated live. */
function checkpointTable(cs: CheckpointRow[]): string {
  const what: Record<string, string> = { creating: 'take', reverting: 'revert', deleting: 'delete' };
  const rows = cs.map((c) => {
    const progress = c.status === 'available' ? 100 : c.progress;
    return `<tr data-checkpoint-id="${h(c.id)}" data-state="${h(c.status)}"><td>${h(what[c.status] ?? '—')}</td><td>${h(c.name ?? shortId(c.id))}</td><td>${h(shortId(c.instanceUuid))}</td>
<td class="state">${h(c.status)}</td><td><progress max="100" value="${progress}" aria-label="progress of checkpoint ${h(c.name ?? shortId(c.id))}">${progress}%</progress> <span class="pct">${progress}%</span></td>
<td>${h(when(c.updatedAt.toISOString()))}</td><td class="message">${h(c.status === 'error' ? c.error ?? '' : '')}</td></tr>`;
  }).join('\n');
  return `<table class="checkpoints" data-live="checkpoints"><caption>Checkpoints of instances being taken, reverted or deleted (updated live)</caption><thead><tr><th scope="col">Work</th><th scope="col">Checkpoint</th>
<th scope="col">Instance</th><th scope="col">State</th><th scope="col">Progress</th><th scope="col">Since</th><th scope="col">Message</th></tr></thead><tbody>${rows}</tbody></table>`;
}

export function operationsBody(p: OperationsPage): string {
  return `<section aria-labelledby="running-title"><h2 id="running-title">Running</h2>${operationTable(p.running, 'Running operations (updated live)', true)}
${p.running.length === 0 ? '<p class="empty">Nothing is running.</p>' : ''}</section>
${p.checkpoints === null ? '' : `<section aria-labelledby="checkpoints-title"><h2 id="checkpoints-title">Checkpoints in progress</h2>${checkpointTable(p.checkpoints)}
${p.checkpoints.length === 0 ? '<p class="empty">No checkpoint is being taken, reverted or deleted.</p>' : ''}</section>`}
<section aria-labelledby="failed-title"><h2 id="failed-title">Recent failures</h2>${operationTable(p.failed, 'The 20 most recent failed operations, with their messages', false)}</section>`;
}

export function systemBody(p: SystemPage): string {
  const pools = p.pools === null ? '<p>Capacity per share is shown to administrators only (policy scheduler_extension:scheduler_stats:get_pools).</p>'
    : `<table class="pools"><caption>Capacity per share</caption><thead><tr><th scope="col">Share</th><th scope="col">Mounted</th><th scope="col">Total</th><th scope="col">Free</th><th scope="col">Provisioned</th></tr></thead><tbody>
${p.pools.map((pool) => {
    const c = pool.capabilities as Record<string, unknown>;
    return `<tr><td>${h(String(c.pool_name))}</td><td>${c.mounted ? 'yes' : 'no'}</td><td>${h(String(c.total_capacity_gb))} GiB</td><td>${h(String(c.free_capacity_gb))} GiB</td><td>${h(String(c.provisioned_capacity_gb))} GiB</td></tr>`;
  }).join('\n')}</tbody></table>`;
  const checks = `<table class="health"><caption>Health of each component: ${h(p.health.status)}</caption><thead><tr><th scope="col">Component</th><th scope="col">Status</th><th scope="col">Reason</th></tr></thead><tbody>
${p.health.checks.map((c) => `<tr class="check-${h(c.status)}"><td>${h(c.name)}</td><td>${h(c.status)}</td><td>${h(c.reason ?? '')}</td></tr>`).join('\n')}</tbody></table>`;
  return `${pools}${checks}`;
}

export function errorBody(code: string, message: string): string {
  return `<p class="error" role="alert"><strong>${h(code)}</strong>: ${h(message)}</p><p><a href="/console/volumes">Back to the volumes</a></p>`;
}
