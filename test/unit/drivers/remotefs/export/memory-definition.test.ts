/** The definition inside a memory file (a libvirt save image) read for the import's check. */
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { isStorageError } from '../../../../../lib/core/errors.js';
import { definitionInSaveImage } from '../../../../../drivers/remotefs/export/memory-definition.js';
import { fakeSaveImage } from '../../../../fixtures/export/save-image.js';

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
});
