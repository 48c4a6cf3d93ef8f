import { expect } from 'chai';
import { StorageError } from '../../../../lib/core/errors.js';
import { fromHttpError, parseByteSize, pathProblem } from '../../../../lib/core/http-server.js';
import { faultBody } from '../../../../src/api/error-handler.js';
import { errorJson } from '../../../../coordinator/http/errors.js';

describe('core: http-server request checks', () => {
  it('refuses paths that do not percent-decode or decode to a control character', () => {
    for (const url of ['/v3/volumes/%', '/v3/volumes/%u002e', '/v3/snapshots/%C0%AE%C0%AE%2F', '/v3/volumes/%E0%A4%A', '/v3/volumes/%00', '/a/%7F', '/a%0Ab']) {
      expect(pathProblem(url)?.code, url).to.equal('MALFORMED_REQUEST');
    }
  });

  it('lets well-formed paths through, whatever the query string holds', () => {
    for (const url of ['/', '/v3/volumes/detail?limit=1', '/v3/p-1/volumes/1a2b', '/v3/volumes/%2E%2E%2F', '/v3/volumes/%F0%9F%A6%80', '/v3/volumes?name=%00%']) {
      expect(pathProblem(url), url).to.equal(null);
    }
  });

  it('maps express and body-parser client errors to 4xx stable codes, and leaves the rest', () => {
    expect(fromHttpError({ status: 400, message: "Failed to decode param '%'" })?.code).to.equal('MALFORMED_REQUEST');
    expect(fromHttpError({ status: 400, type: 'entity.parse.failed' })?.code).to.equal('INVALID_INPUT');
    expect(fromHttpError({ status: 413, type: 'entity.too.large' })?.code).to.equal('PAYLOAD_TOO_LARGE');
    expect(fromHttpError({ status: 415, type: 'charset.unsupported' })?.code).to.equal('UNSUPPORTED_MEDIA_TYPE');
    expect(fromHttpError({ status: 500, type: 'stream.encoding.set' })).to.equal(null);
    expect(fromHttpError(new Error('SQLITE_ERROR: boom'))).to.equal(null);
  });

  it('reads body-parser byte sizes', () => {
    expect(parseByteSize('64kb')).to.equal(65_536);
    expect(parseByteSize('16KB')).to.equal(16_384);
    expect(parseByteSize('1mb')).to.equal(1_048_576);
    expect(parseByteSize('100')).to.equal(100);
    expect(() => parseByteSize('lots')).to.throw(StorageError);
  });

  it('answers unexpected errors with a fixed text on both APIs, never the error\'s own', () => {
    const err = new StorageError('INTERNAL', "SQLITE_ERROR: near \"'a\": syntax error at /srv/x.js:1:2");
    expect(JSON.stringify(faultBody(err, 'req-1'))).not.to.match(/SQLITE|x\.js/);
    expect(faultBody(err, 'req-1')).to.deep.include({ computeFault: { message: 'unexpected internal error; the service log has it under this request id', code: 500, error_code: 'INTERNAL', request_id: 'req-1' } });
    expect(JSON.stringify(errorJson(err))).not.to.match(/SQLITE|x\.js/);
    expect(errorJson(new StorageError('VOLUME_BUSY', 'busy'))).to.deep.equal({ code: 'VOLUME_BUSY', message: 'busy' });
  });
});
