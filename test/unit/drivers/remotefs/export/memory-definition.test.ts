/** The definition inside a memory file (a libvirt save image) read for the import's check. */
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { isStorageError } from '../../../../../lib/core/errors.js';
import { definitionInSaveImage, withSaveImageDefinition } from '../../../../../drivers/remotefs/export/memory-definition.js';
import { FAKE_COOKIE, fakeSaveImage } from '../../../../fixtures/export/save-image.js';

const refused = (head: Buffer, size: number, pattern: RegExp) => {
  try {
    definitionInSaveImage(head, size, 'memory');
  } catch (err) {
    expect(isStorageError(err, 'CHECKPOINT_MEMORY_UNSAFE'), String(err)).to.equal(true);
    expect((err as Error).message).to.match(pattern);
    return;
  }
  expect.fail('accepted');
};

describe('export: the definition inside a memory file', () => {
  it('reads the definition up to its NUL', () => {
    const image = fakeSaveImage('<domain><name>x</name></domain>', randomBytes(64));
    expect(definitionInSaveImage(image, image.length, 'memory')).to.equal('<domain><name>x</name></domain>');
  });

  it('refuses what is not a complete raw save image, or claims more than the file holds', () => {
    const image = fakeSaveImage('<domain/>', randomBytes(64));
    refused(randomBytes(200), 200, /wrong magic/);
    refused(Buffer.concat([Buffer.from('LibvirtQemudPart'), image.subarray(16)]), image.length, /wrong magic/);
    refused(image.subarray(0, 40), image.length, /wrong magic/);
    const v9 = Buffer.from(image);
    v9.writeUInt32LE(9, 16);
    refused(v9, v9.length, /version 9/);
    const gz = Buffer.from(image);
    gz.writeUInt32LE(1, 28);
    refused(gz, gz.length, /compressed/);
    const long = Buffer.from(image);
    long.writeUInt32LE(1 << 30, 20);
    refused(long, long.length, /more data than the file holds/);
    const unterminated = Buffer.from(image);
    unterminated.fill(0x41, 92);
    refused(unterminated, unterminated.length, /not terminated/);
  });

  describe('its definition replaced (an import places it on its own files and ids)', () => {
    const HEADER = 92;
    /** The cookie as libvirt reads it: the NUL-terminated string at the header's offset in the data. */
    const cookieOf = (image: Buffer) => {
      const at = image.readUInt32LE(32);
      if (at === 0) return null;
      const data = image.subarray(HEADER, HEADER + image.readUInt32LE(20));
      return data.subarray(at, data.indexOf(0, at)).toString('utf8');
    };
    const replaced = (image: Buffer, xml: string) => {
      const out = withSaveImageDefinition(image, image.length, xml, 'memory');
      return out === null ? null : Buffer.concat([out, image.subarray(out.length)]);
    };

    it('writes a longer definition, moves the cookie behind it and keeps the state bytes and data length', () => {
      const state = randomBytes(4096);
      const image = fakeSaveImage('<domain><uuid>a</uuid></domain>', state);
      const xml = `<domain><uuid>b</uuid><name>${'x'.repeat(500)}</name></domain>`;
      const out = replaced(image, xml) as Buffer;
      expect(out.length).to.equal(image.length);
      expect(definitionInSaveImage(out, out.length, 'memory')).to.equal(xml);
      expect(cookieOf(out)).to.equal(FAKE_COOKIE);
      expect(out.readUInt32LE(32)).to.equal(Buffer.byteLength(xml) + 1);
      expect(out.subarray(0, 32)).to.deep.equal(image.subarray(0, 32));
      expect(out.subarray(out.length - state.length)).to.deep.equal(state);
      // The rest of the data region is zeros: nothing of the old definition is left behind.
      const data = out.subarray(HEADER, HEADER + out.readUInt32LE(20));
      expect(data.subarray(Buffer.byteLength(xml) + 1 + FAKE_COOKIE.length + 1).every((b) => b === 0)).to.equal(true);
    });

    it('writes a shorter one, and one into an image without a cookie (offset stays 0)', () => {
      const image = fakeSaveImage(`<domain>${'y'.repeat(300)}</domain>`, randomBytes(64));
      const out = replaced(image, '<domain/>') as Buffer;
      expect([definitionInSaveImage(out, out.length, 'memory'), cookieOf(out)]).to.deep.equal(['<domain/>', FAKE_COOKIE]);
      const bare = fakeSaveImage('<domain/>', randomBytes(64), { cookie: null });
      const out2 = replaced(bare, '<domain><name>n</name></domain>') as Buffer;
      expect([definitionInSaveImage(out2, out2.length, 'memory'), out2.readUInt32LE(32)]).to.deep.equal(['<domain><name>n</name></domain>', 0]);
    });

    it('answers null (no room) when the definition and cookie outgrow the data region, exactly at its edge', () => {
      const image = fakeSaveImage('<domain/>', randomBytes(64), { pad: 10 });
      const room = image.readUInt32LE(20) - (FAKE_COOKIE.length + 1) - 1;
      const fits = `<d>${'z'.repeat(room - 7)}</d>`;
      expect(Buffer.byteLength(fits)).to.equal(room);
      expect(definitionInSaveImage(replaced(image, fits) as Buffer, image.length, 'memory')).to.equal(fits);
      expect(replaced(image, `<d>${'z'.repeat(room - 6)}</d>`)).to.equal(null);
    });

    it('refuses a header libvirt would not read: a cookie outside the data or unterminated', () => {
      const image = fakeSaveImage('<domain/>', randomBytes(64), { pad: 0 });
      const outside = Buffer.from(image);
      outside.writeUInt32LE(outside.readUInt32LE(20) + 5, 32);
      expect(() => withSaveImageDefinition(outside, outside.length, '<domain/>', 'memory')).to.throw(/cookie/);
      const inDefinition = Buffer.from(image);
      inDefinition.writeUInt32LE(2, 32);
      expect(() => withSaveImageDefinition(inDefinition, inDefinition.length, '<domain/>', 'memory')).to.throw(/cookie/);
      const unterminated = Buffer.from(image);
      unterminated[unterminated.length - 64 - 1] = 0x41;
      expect(() => withSaveImageDefinition(unterminated, unterminated.length, '<domain/>', 'memory')).to.throw(/cookie/);
    });
  });
});
