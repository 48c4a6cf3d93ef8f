/**
 * The import archive reader (drivers/remotefs/export/archive-read.ts, tar-header.ts,
 * archive-input.ts, entry-write.ts) on its own, with a minimal archive kind: every byte of every
 * file lands in its temp whatever the source's chunking (headers split across chunks, entries
 * spanning several slabs), with the right sha256, also from an archive file read directly; the extension headers ordinary tools write (pax
 * path, GNU long name) name the entry that is judged, so a hostile name hidden in one is refused;
 * links, devices and unknown entry types are refused; a corrupt or truncated stream is
 * ARCHIVE_CORRUPT; a refused source is drained, never destroyed.
 */
import { expect } from 'chai';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, open, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { isStorageError } from '../../../../../lib/core/errors.js';
import { ArchiveFileStream } from '../../../../../drivers/remotefs/export/archive-file-stream.js';
import { receiveTar, type ArchiveKind } from '../../../../../drivers/remotefs/export/archive-read.js';
import { decodeHeader } from '../../../../../drivers/remotefs/export/tar-header.js';
import { packEntries, sums, type Entry } from '../../../../fixtures/export/tar-entries.js';

const MiB = 1024 * 1024;
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** A header block written by hand (for what tar-stream does not write: GNU long names, odd types). */
function header(name: string, typeflag: string, size: number, gnu = false): Buffer {
  const b = Buffer.alloc(512);
  b.write(name, 0, 100, 'utf8');
  b.write('0000644\0', 100);
  b.write('0000000\0', 108);
  b.write('0000000\0', 116);
  b.write(`${size.toString(8).padStart(11, '0')}\0`, 124);
  b.write('00000000000\0', 136);
  b.write(typeflag, 156, 'latin1');
  if (gnu) b.write('ustar  \0', 257, 'latin1');
  else b.write('ustar\x0000', 257, 'latin1');
  return sealed(b);
}

/** The header's checksum (again, after a change). */
function sealed(b: Buffer): Buffer {
  b.write('        ', 148, 'latin1');
  let sum = 0;
  for (const x of b) sum += x;
  b.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  return b;
}

function padded(data: Buffer): Buffer {
  return Buffer.concat([data, Buffer.alloc((512 - (data.length % 512)) % 512)]);
}

/** A manifest `{ name: bytes }` announcing exactly these files. */
function manifestOf(files: Entry[]): Entry {
  return { name: 'manifest.json', data: Buffer.from(JSON.stringify(Object.fromEntries(files.map((f) => [f.name, f.data?.length ?? 0])))) };
}

function archiveEntries(files: Entry[]): Entry[] {
  return [manifestOf(files), ...files, { name: 'SHA256SUMS', data: sums(files) }];
}

/** The bytes in chunks of `size` (a socket's small pieces, or one byte to split every header). */
function chunked(buf: Buffer, size: number): Readable {
  const parts: Buffer[] = [];
  for (let i = 0; i < buf.length; i += size) parts.push(buf.subarray(i, i + size));
  // Not destroyed at its end by itself: a refusal's test sees whether the reader destroyed it.
  return Readable.from(parts, { autoDestroy: false });
}

describe('import archive reader (own tar parsing, slabs of shared memory)', function () {
  this.timeout(120_000);
  let dir: string;
  let n = 0;
  before(async () => { dir = await mkdtemp(path.join(os.tmpdir(), 'archive-read-')); });
  after(async () => { await rm(dir, { recursive: true, force: true }); });

  const kind: ArchiveKind<Record<string, number>> = {
    parseManifest: (text) => JSON.parse(text) as Record<string, number>,
    announced: (m) => new Map(Object.entries(m)),
    place: async () => (name) => path.join(dir, `t${n++}-${name.length}`),
  };

  async function receive(source: Readable): Promise<{ sums: Map<string, string>; temps: Map<string, string> }> {
    const temps = new Map<string, string>();
    const out = await receiveTar(source, kind, { temps });
    return { sums: out.sums, temps };
  }

  async function refusal(archive: Buffer, chunk = MiB): Promise<{ code: string; message: string }> {
    const temps = new Map<string, string>();
    const source = chunked(archive, chunk);
    try {
      await receiveTar(source, kind, { temps });
    } catch (err) {
      expect(source.destroyed, 'the source was destroyed').to.equal(false);
      // Drained to its end (an HTTP request's refusal is answered after its body).
      if (!source.readableEnded) await once(source, 'end');
      for (const t of temps.values()) await rm(t, { force: true });
      return { code: isStorageError(err) ? err.code : String(err), message: (err as Error).message };
    }
    throw new Error('the archive was accepted');
  }

  it('writes every byte of every file with its sha256, whatever the chunking', async () => {
    const files: Entry[] = [
      { name: 'empty', data: Buffer.alloc(0) },
      { name: 'small', data: randomBytes(1000) },
      { name: 'large', data: randomBytes(8 * MiB * 2 + 12345) },
      { name: 'exact', data: randomBytes(9 * MiB) },
    ];
    const archive = await packEntries(archiveEntries(files));
    for (const size of [1, 511, 64 * 1024, 4 * MiB + 3, archive.length]) {
      // One-byte chunks only for a small archive (the large file's bytes would be millions of chunks).
      const src = size === 1 ? await packEntries(archiveEntries(files.slice(0, 2))) : archive;
      const wanted = size === 1 ? files.slice(0, 2) : files;
      const { sums: got, temps } = await receive(chunked(src, size));
      for (const f of wanted) {
        expect(got.get(f.name), `${f.name} in chunks of ${size}`).to.equal(sha(f.data as Buffer));
        expect((await readFile(temps.get(f.name) as string)).equals(f.data as Buffer), `${f.name} bytes`).to.equal(true);
      }
      for (const t of temps.values()) await rm(t);
    }
  });

  it('reads an archive file directly (ArchiveFileStream): every byte, the file closed at the end; truncated is ARCHIVE_CORRUPT', async () => {
    const files: Entry[] = [{ name: 'large', data: randomBytes(8 * MiB * 2 + 777) }, { name: 'small', data: randomBytes(70 * 1024) }];
    const archive = await packEntries(archiveEntries(files));
    const file = path.join(dir, 'archive.tar');
    await writeFile(file, archive);
    // Reads longer than a stream's chunks are the reader's own, straight into its slabs.
    let direct = 0;
    const src = new (class extends ArchiveFileStream {
      override readInto(buf: Buffer, offset: number, length: number): Promise<number> {
        if (length > MiB) direct += 1;
        return super.readInto(buf, offset, length);
      }
    })(await open(file, 'r'));
    const { sums: got, temps } = await receive(src);
    expect(direct, 'reads into the slabs').to.be.greaterThan(0);
    for (const f of files) {
      expect(got.get(f.name), f.name).to.equal(sha(f.data as Buffer));
      expect((await readFile(temps.get(f.name) as string)).equals(f.data as Buffer), `${f.name} bytes`).to.equal(true);
    }
    expect(src.destroyed, 'the file is closed').to.equal(true);
    for (const t of temps.values()) await rm(t);
    // Any other consumer reads it as a stream.
    const chunks: Buffer[] = [];
    for await (const c of new ArchiveFileStream(await open(file, 'r'))) chunks.push(c as Buffer);
    expect(Buffer.concat(chunks).equals(archive)).to.equal(true);
    await writeFile(file, archive.subarray(0, 12 * MiB));
    const temps2 = new Map<string, string>();
    const err = await receiveTar(new ArchiveFileStream(await open(file, 'r')), kind, { temps: temps2 }).then(() => null, (e: unknown) => e);
    expect(isStorageError(err) ? err.code : String(err)).to.equal('ARCHIVE_CORRUPT');
    for (const t of temps2.values()) await rm(t, { force: true });
    await rm(file);
  });

  it('takes a stream of plain byte arrays (not buffers)', async () => {
    const files = [{ name: 'a', data: randomBytes(100_000) }];
    const archive = await packEntries(archiveEntries(files));
    const parts: Uint8Array[] = [];
    for (let i = 0; i < archive.length; i += 7000) parts.push(new Uint8Array(archive.subarray(i, i + 7000)));
    const { sums: got, temps } = await receive(Readable.from(parts));
    expect(got.get('a')).to.equal(sha(files[0]!.data));
    for (const t of temps.values()) await rm(t);
  });

  it('takes a name from a pax header (a long name ordinary tools write)', async () => {
    const long = `f${'x'.repeat(150)}`;
    const files = [{ name: long, data: randomBytes(3000) }];
    const { sums: got, temps } = await receive(Readable.from([await packEntries(archiveEntries(files))]));
    expect(got.get(long)).to.equal(sha(files[0]!.data));
    for (const t of temps.values()) await rm(t);
  });

  it('refuses a hostile name hidden in a pax header or a GNU long name', async () => {
    const files = [{ name: 'a', data: Buffer.from('hello') }];
    const paxEvil = await packEntries([manifestOf(files), { name: `${'../'.repeat(40)}etc/evil`, data: Buffer.from('x') }]);
    const r1 = await refusal(paxEvil);
    expect(r1.code).to.equal('ARCHIVE_UNSAFE_ENTRY');
    expect(r1.message).to.contain('path with ..');
    const m = manifestOf(files).data as Buffer;
    const longName = Buffer.from('../../etc/passwd');
    const gnu = Buffer.concat([
      header('manifest.json', '0', m.length), padded(m),
      header('././@LongLink', 'L', longName.length, true), padded(longName),
      header('a', '0', 5, true), padded(Buffer.from('hello')), Buffer.alloc(1024),
    ]);
    const r2 = await refusal(gnu);
    expect(r2.code).to.equal('ARCHIVE_UNSAFE_ENTRY');
    expect(r2.message).to.contain('../../etc/passwd');
  });

  it('refuses links, devices, directories and entry types it does not know', async () => {
    const files = [{ name: 'a', data: Buffer.from('hello') }];
    const m = manifestOf(files).data as Buffer;
    for (const [flag, type] of [['1', 'link'], ['2', 'symlink'], ['3', 'character-device'], ['5', 'directory'], ['S', 'type flag "S"'], ['V', 'type flag "V"']] as const) {
      const archive = Buffer.concat([header('manifest.json', '0', m.length), padded(m), header('a', flag, 0), Buffer.alloc(1024)]);
      const r = await refusal(archive);
      expect(r.code, flag).to.equal('ARCHIVE_UNSAFE_ENTRY');
      expect(r.message, flag).to.contain(`a ${type}, not a plain file`);
    }
  });

  it('refuses a corrupt header, a truncated entry and a stream cut inside a header as ARCHIVE_CORRUPT', async () => {
    const files = [{ name: 'a', data: randomBytes(20 * MiB) }];
    const archive = await packEntries(archiveEntries(files));
    const flipped = Buffer.from(archive);
    flipped[0] = (flipped[0] as number) ^ 1;
    const cases: [string, Buffer][] = [
      ['a flipped header byte', flipped],
      ['not a tar stream', Buffer.alloc(4096, 0x41)],
      ['cut inside the large entry', archive.subarray(0, 10 * MiB)],
      ['cut inside a header', archive.subarray(0, archive.length - 1024 - 100)],
      ['an extended header larger than any name needs', Buffer.concat([header('x', 'x', 2 * MiB), Buffer.alloc(2 * MiB)])],
      ['a malformed pax record', Buffer.concat([header('x', 'x', 9), padded(Buffer.from('9 path=a\n'.replace('9', '99'))), Buffer.alloc(1024)])],
    ];
    for (const [what, bytes] of cases) {
      expect((await refusal(bytes)).code, what).to.equal('ARCHIVE_CORRUPT');
    }
    expect((await readdir(dir)).length, 'temps left').to.equal(0);
  });

  it('decodes base-256 sizes, refuses non-octal ones, and skips zero blocks', () => {
    const h = header('big', '0', 0);
    h.fill(0, 124, 136);
    h[124] = 0x80;
    h.writeUIntBE(16 * 1024 ** 3, 136 - 6, 6);
    expect(decodeHeader(sealed(h))?.size).to.equal(16 * 1024 ** 3);
    const bad = header('bad', '0', 0);
    bad.write('0000009', 124, 'latin1');
    expect(() => decodeHeader(sealed(bad))).to.throw('size is not an octal number');
    const wrongSum = header('sum', '0', 0);
    wrongSum[0] = (wrongSum[0] as number) ^ 1;
    expect(() => decodeHeader(wrongSum)).to.throw('checksum');
    expect(decodeHeader(Buffer.alloc(512))).to.equal(null);
  });
});
