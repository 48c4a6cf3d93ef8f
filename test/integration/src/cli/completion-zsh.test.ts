/**
 * `qcs completion zsh`, run as a process; the script it prints is loaded into a real interactive
 * zsh (compinit, then sourced or autoloaded from $fpath) running on a pseudo-terminal (zsh's
 * zpty), where a Tab is typed after a partial command line and zsh's own listing is read back.
 * Each read waits for the words it expects; the run's timeout bounds a completion that never comes.
 */
import { expect } from 'chai';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { run } from '../../../../lib/core/process.js';
import { runCli } from '../../../fixtures/cli/spawn-cli.js';

const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

const ESC = String.fromCharCode(27);
const BEL = String.fromCharCode(7);
/** Escape sequences, carriage returns and bells out: the terminal's text as a reader sees it. */
const plain = (s: string) => s.replace(new RegExp(`${ESC}\\[[0-9;?]*[A-Za-z]`, 'g'), '').replaceAll('\r', '').replaceAll(BEL, '');

describe('cli: zsh completion', function () {
  this.timeout(120_000);
  let dir: string;
  let script: string;
  let fpathDir: string;
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'qcs-zsh-'));
    const r = await runCli(['completion', 'zsh']);
    expect(r.code, r.stderr).to.equal(0);
    script = path.join(dir, 'qcs.zsh');
    await writeFile(script, r.stdout);
    fpathDir = path.join(dir, 'functions');
    await mkdir(fpathDir);
    await writeFile(path.join(fpathDir, '_qcs'), r.stdout);
  });
  after(async () => { if (dir) await rm(dir, { recursive: true, force: true }); });

  /**
   * Type `line` and a Tab into an interactive zsh whose set-up is `setup`, and return what the
   * terminal showed up to the moment `until` (a zsh pattern) matched it. (Nothing more may be
   * typed before the listing is out: zsh drops a listing when more keys are waiting.)
   */
  async function tab(setup: string, line: string, until: string): Promise<string> {
    const driver = [
      'zmodload zsh/zpty',
      `zpty z 'zsh -f -i'`,
      // A wide terminal: zsh cuts listing lines at $COLUMNS.
      `zpty -w z ${quote(`PS1='> '; COLUMNS=300; HOME=${dir}; autoload -U compinit; ${setup}; print LOADED-$((6*7))`)}`,
      `zpty -r -m z out '*LOADED-42*'`,
      `zpty -n -w z ${quote(line)}$'\\t'`,
      `zpty -r -m z out ${quote(until)}`,
      `print -r -- "$out"`,
      'zpty -d z',
    ].join('\n');
    const r = await run('zsh', ['-f', '-c', driver], { timeoutMs: 60_000 });
    return plain(r.stdout);
  }

  const sourced = () => `compinit -u -D; source ${quote(script)}`;

  it('sourced after compinit: registers _qcs for qcs and qcowshare', async () => {
    const r = await run('zsh', ['-f', '-c', `autoload -U compinit; compinit -u -D; source ${quote(script)}; print -r -- "$_comps[qcs] $_comps[qcowshare]"; whence -w _qcs`]);
    expect(r.stdout.trim().split('\n')).to.deep.equal(['_qcs _qcs', '_qcs: function']);
  });

  it('lists the commands with their descriptions', async () => {
    const shown = await tab(sourced(), 'qcs ', '*volume*-- volumes*');
    for (const c of ['serve', 'db', 'volume', 'snapshot', 'operation', 'checkpoint', 'completion']) expect(shown).to.match(new RegExp(`\\b${c}\\b`));
    expect(shown).to.match(/snapshot\s+-- snapshots/);
  });

  it('lists the subcommands of a level, passing over option values before it', async () => {
    const shown = await tab(sourced(), 'qcs --url http://h:8776 volume re', '*revert*-- revert to a snapshot*');
    expect(shown).to.match(/rename\s+-- rename a volume/).and.match(/reset-state\s+-- /).and.match(/revert\s+-- revert to a snapshot/);
    expect(shown).to.not.match(/\bclone\b/);
  });

  it('completes a unique subcommand and the options of a command, ids and names passed over', async () => {
    expect(await tab(sourced(), 'qcs snapshot force-', '*force-delete*')).to.include('qcs snapshot force-delete');
    const options = await tab(sourced(), 'qcs volume revert web s1 -', '*--yes*-- no question before a revert that shrinks*');
    expect(options).to.include('--any').and.include('--wait').and.include('--help').and.match(/--yes\s+-y\s+-- no question before a revert that shrinks/);
  });

  it('saved as _qcs in $fpath, compinit autoloads it', async () => {
    expect(await tab(`fpath=(${quote(fpathDir)} $fpath); compinit -u -D`, 'qcs volume metadata ', '*unset*-- ?*')).to.match(/set\s+-- /).and.match(/unset\s+-- /);
  });
});
