import { expect } from 'chai';
import { openApiPath } from '../../../../src/api/routes/route.js';
import { BACKENDS, auth, startTestService, type TestDb, type TestService } from '../../../fixtures/api/harness.js';
import { createVolume } from '../../../fixtures/api/helpers.js';

interface Layer { route?: { path: string; methods: Record<string, boolean> } }

describe('api: /openapi.json, /healthz, /metrics', function () {
  this.timeout(60_000);
  let db: TestDb;
  let t: TestService;
  before(async () => {
    db = await (BACKENDS[0] as (typeof BACKENDS)[number]).create();
    t = await startTestService(db.config);
  });
  after(async () => {
    await t?.stop();
    await db?.cleanup();
  });

  it('documents exactly the routes express serves', async () => {
    const doc = (await t.http.get('/openapi.json').expect(200)).body as { paths: Record<string, Record<string, unknown>> };
    const documented = Object.entries(doc.paths).flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m} ${p}`)).sort();
    const stack = (t.svc.app as unknown as { router: { stack: Layer[] } }).router.stack;
    const served = stack.filter((l) => l.route).flatMap((l) => Object.keys(l.route!.methods).filter((m) => m !== '_all').map((m) => `${m} ${openApiPath(l.route!.path)}`)).sort();
    expect(documented).to.deep.equal(served);
    expect(documented).to.include.members(['get /v3/volumes/detail', 'get /v3/{project_id}/volumes/detail', 'post /v3/{project_id}/snapshots/{snapshot_id}/action']);
  });

  it('reports health and Prometheus metrics with request counts and operations by state', async () => {
    expect((await t.http.get('/healthz')).body.status).to.equal('ok');
    await createVolume(t);
    await t.http.get('/v3/volumes').set(auth('alice')).expect(200);
    const text = (await t.http.get('/metrics').set(auth('admin')).expect(200)).text;
    expect(text).to.match(/qcowshare_http_requests_total\{method="GET",route="\/v3\/volumes",status="200"\} \d+/);
    expect(text).to.match(/qcowshare_http_request_duration_seconds_bucket\{method="POST",route="\/v3\/volumes",status="202",le="\+Inf"\} 1/);
    expect(text).to.match(/qcowshare_operations\{state="succeeded"\} [1-9]/);
  });
});
