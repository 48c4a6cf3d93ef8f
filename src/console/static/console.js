/* global document, fetch, setTimeout */
// The console's only script: live progress of running operations. Every page works without it;
// it polls /console/operations.json (the session cookie authenticates it; running and recent
// operations and checkpoints) about once a second while a live table is on the page, and rewrites the progress,
// state and message cells of the rows it shows in place (a new operation appears on reload).
// No framework, no build step; text is set with textContent, never as HTML.
'use strict';

(function () {
  var tables = document.querySelectorAll('table[data-live]');
  if (tables.length === 0) return;
  var INTERVAL_MS = 1000;

  function cell(row, cls) { return row.querySelector('.' + cls); }

  function update(op) {
    show(document.querySelectorAll('tr[data-operation-id="' + op.id + '"]'), op.state, op.progress, op.error);
  }

  // Checkpoints have rows of their own (status, not state): the same cells.
  function updateCheckpoint(c) {
    show(document.querySelectorAll('table[data-live] tr[data-checkpoint-id="' + c.id + '"]'), c.status, c.progress, c.error);
  }

  function show(rows, state, progress, error) {
    var op = { state: state, progress: progress, error: error };
    rows.forEach(function (row) {
      row.setAttribute('data-state', op.state);
      var bar = row.querySelector('progress');
      if (bar) { bar.value = op.progress; bar.textContent = op.progress + '%'; }
      var pct = cell(row, 'pct'); if (pct) pct.textContent = op.progress + '%';
      var st = cell(row, 'state'); if (st) st.textContent = op.state;
      var msg = cell(row, 'message'); if (msg) msg.textContent = op.error || '';
    });
  }

  function poll() {
    fetch('/console/operations.json', { credentials: 'same-origin', headers: { accept: 'application/json' } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (body) {
        if (body === null) return;
        body.operations.forEach(update);
        (body.checkpoints || []).forEach(updateCheckpoint);
      })
      .catch(function () { /* the next poll tries again */ })
      .then(function () { setTimeout(poll, INTERVAL_MS); });
  }
  poll();
}());
