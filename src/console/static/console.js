/* global document, fetch, setTimeout */
// The console's only script: live progress of running operations. Every page works without it;
// it polls /console/operations.json (the session cookie authenticates it; running and recent
// operations) about once a second while a live table is on the page, and rewrites the progress,
// state and message cells of the rows it shows in place (a new operation appears on reload).
// No framework, no build step; text is set with textContent, never as HTML.
'use strict';

(function () {
  var tables = document.querySelectorAll('table[data-live]');
  if (tables.length === 0) return;
  var INTERVAL_MS = 1000;

  function cell(row, cls) { return row.querySelector('.' + cls); }

  function update(op) {
    var rows = document.querySelectorAll('tr[data-operation-id="' + op.id + '"]');
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
      })
      .catch(function () { /* the next poll tries again */ })
      .then(function () { setTimeout(poll, INTERVAL_MS); });
  }
  poll();
}());
