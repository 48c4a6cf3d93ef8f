/**
 * `qcs completion bash`, run as a process; the script it prints is loaded into a real bash and
 * its completion function asked what completes a few command lines.
 */
import { expect } from 'chai';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { run } from '../../../../lib/core/process.js';
import { runCli } from '../../../fixtures/cli/spawn-cli.js';

describe('cli: bash completion', function () {
  this.timeout(120_000);
  let dir: string;
  let script: string;
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'qcs-completion-'));
    const r = await runCli(['completion', 'bash']);
    expect(r.code, r.stderr).to.equal(0);
    script = path.join(dir, 'qcs.bash');
    await writeFile(script, r.stdout);
  });
  after(async () => { if (dir) await rm(dir, { recursive: true, force: true }); });

  /** What bash offers after `words` (the last one being completed). */
  async function complete(...words: string[]): Promise<string[]> {
    const array = words.map((w) => `'${w}'`).join(' ');
    const r = await run('bash', ['-c', `source '${script}' && [[ "$(complete -p qcs)" == *_qcs_complete* ]] && COMP_WORDS=(${array}) && COMP_CWORD=${words.length - 1} && _qcs_complete && printf '%s\\n' "\${COMPREPLY[@]}"`]);
    return r.stdout.split('\n').filter((l) => l !== '').sort();
  }

  it('completes commands, subcommands and options at each level, passing over ids, names and option values', async () => {
    expect(await complete('qcs', '')).to.include.members(['volume', 'snapshot', 'operation', 'completion']);
    expect(await complete('qcs', 'volume', 're')).to.deep.equal(['rename', 'reset-state', 'revert']);
    expect(await complete('qcs', '--url', 'http://h:8776', 'volume', 'metadata', '')).to.deep.equal(['set', 'unset']);
    expect(await complete('qcs', 'volume', 'revert', 'web', 's1', '--')).to.deep.equal(['--any', '--help', '--wait', '--yes']);
    expect(await complete('qcs', 'snapshot', 'force-')).to.deep.equal(['force-delete']);
  });

  it('another shell is refused with a stable code', async () => {
    const r = await runCli(['--json', 'completion', 'tcsh']);
    expect(r.stdout).to.equal('');
    expect(r.code).to.equal(2);
    expect((JSON.parse(r.stderr) as { error: { code: string } }).error.code).to.equal('INVALID_ARGUMENT');
  });
});
