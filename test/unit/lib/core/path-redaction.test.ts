import { expect } from 'chai';
import { pathRedactor, redactDeep } from '../../../../lib/core/path-redaction.js';

describe('path redaction (what an error text shows of this host\'s paths)', () => {
  const vid = '6f1c3e1a-8a53-4c1e-9d3e-3a3f1d2b4c5d';
  const share = '/srv/qcs/mnt/4986b85aad5058bca89aa3a775680f22';
  const redact = pathRedactor([
    { dir: '/srv/qcs/mnt', label: 'the mount base' },
    { dir: share, label: 'the share' },
    { dir: '/var/tmp/', label: 'the temp directory' },
  ]);

  it('names a file under a share by its name on the share, whatever quotes or punctuation surround it', () => {
    expect(redact(`${share}/volume-${vid}.info: not JSON`)).to.equal(`volume-${vid}.info: not JSON`);
    expect(redact(`qemu-img: Could not open '${share}/volume-${vid}.s1': Image is not in qcow2 format`))
      .to.equal(`qemu-img: Could not open 'volume-${vid}.s1': Image is not in qcow2 format`);
    expect(redact(`json:{"driver":"qcow2","file":{"driver":"file","filename":"${share}/volume-${vid}"}}`))
      .to.equal(`json:{"driver":"qcow2","file":{"driver":"file","filename":"volume-${vid}"}}`);
    expect(redact(`cannot create ${share}/sub/dir/x.tmp (EEXIST)`)).to.equal('cannot create sub/dir/x.tmp (EEXIST)');
  });

  it('the longest root wins: a share under the mount base is named relative to the share', () => {
    expect(redact(`${share}/volume-${vid}`)).to.equal(`volume-${vid}`);
    expect(redact('/srv/qcs/mnt/.mount-locks/abc')).to.equal('.mount-locks/abc');
  });

  it('a root named alone becomes its label (a trailing slash in the configuration does not matter)', () => {
    expect(redact(`share at ${share} is not writable`)).to.equal('share at the share is not writable');
    expect(redact('mounting /srv/qcs/mnt, /var/tmp.')).to.equal('mounting the mount base, the temp directory.');
    expect(redact('in /var/tmp/qcs-1/x')).to.equal('in qcs-1/x');
  });

  it('matches a root only as a whole path: a sibling with a longer name or a path that merely contains it is left to the other rules', () => {
    expect(redact('/srv/qcs/mntx/file')).to.equal('/srv/qcs/mntx/file');
    expect(redact('/home/srv/qcs/mnt/file')).to.equal('/home/srv/qcs/mnt/file');
    expect(redact('/var/tmpfoo')).to.equal('/var/tmpfoo');
  });

  it('a path under no known root that names a volume\'s file or a checkpoint\'s file (a compute host\'s own mount) becomes its share-relative name', () => {
    expect(redact(`disk at /var/lib/nova/mnt/abc/volume-${vid}.${vid} failed`)).to.equal(`disk at volume-${vid}.${vid} failed`);
    expect(redact(`/opt/x/.volume-${vid}.tmp-1: ENOENT`)).to.equal(`.volume-${vid}.tmp-1: ENOENT`);
    expect(redact(`memory file /var/lib/nova/mnt/abc/checkpoints/${vid}/memory.save is short`)).to.equal(`memory file checkpoints/${vid}/memory.save is short`);
  });

  it('leaves URL paths and route names alone, and texts without paths unchanged', () => {
    for (const text of [
      'no route for GET /v3/volumes/abc',
      'metadata API /v1/snapshots/x unreachable: ECONNREFUSED',
      'coordinator http://127.0.0.1:8777/v1/volume-ops did not answer',
      `volume ${vid} is busy`,
      'size 0x10: not a decimal number',
    ]) expect(redact(text), text).to.equal(text);
  });

  it('ignores the file-system root and relative directories as roots (they would rename every path or none)', () => {
    const r = pathRedactor([{ dir: '/', label: 'root' }, { dir: 'var/mnt', label: 'relative' }]);
    expect(r('/etc/passwd and var/mnt/x')).to.equal('/etc/passwd and var/mnt/x');
  });

  it('redactDeep redacts every string of nested details and keeps other values', () => {
    const details = { file: `${share}/volume-${vid}`, sizes: [1, 2], nested: { mountPoint: share, paths: [`${share}/a`] }, ok: true, none: null };
    expect(redactDeep(details, redact)).to.deep.equal({ file: `volume-${vid}`, sizes: [1, 2], nested: { mountPoint: 'the share', paths: ['a'] }, ok: true, none: null });
  });

  it('stays linear on a long path that names no volume file (no backtracking blow-up)', () => {
    const long = `/${'a/'.repeat(20_000)}b c`;
    expect(redact(long)).to.equal(long);
  });
});
