import { expect } from 'chai';
import { isStorageError } from '../../../lib/core/errors.js';
import { withQuiesce, type QuiesceContext } from '../../../coordinator/snapshot/quiesce.js';
import { chainDisk, f, harness, silent, DOM } from '../../fixtures/coordinator/context.js';

function setup(policy: 'require' | 'prefer' | 'off', freezeTimeoutMs = 10_000) {
  const h = harness([chainDisk([f()])]);
  const marks: string[] = [];
  const ctx: QuiesceContext = {
    port: h.libvirt, clock: h.clock, log: silent, domainUuid: DOM, policy, freezeTimeoutMs,
    markFrozen: async (frozen) => { marks.push(`mark:${frozen}`); h.libvirt.calls.push(`mark:${frozen}`); },
  };
  return { h, ctx, marks };
}

describe('coordinator: quiesce', () => {
  it('records "frozen" before the freeze, runs the work frozen, thaws, then clears the record', async () => {
    const { h, ctx } = setup('require');
    const out = await withQuiesce(ctx, async () => { h.libvirt.calls.push(`work frozen=${h.libvirt.frozen}`); return 42; });
    expect(out).to.include({ result: 42, quiesced: true });
    expect(h.libvirt.calls).to.deep.equal(['mark:true', 'freeze', 'work frozen=true', 'thaw', 'mark:false']);
  });

  it('thaws in finally when the work throws', async () => {
    const { h, ctx } = setup('prefer');
    try {
      await withQuiesce(ctx, async () => { throw new Error('snapshot failed'); });
      expect.fail('did not throw');
    } catch (err) {
      expect((err as Error).message).to.equal('snapshot failed');
    }
    expect(h.libvirt.calls).to.deep.equal(['mark:true', 'freeze', 'thaw', 'mark:false']);
    expect(h.libvirt.frozen).to.equal(false);
  });

  it('under require, a failed freeze is QUIESCE_FAILED and the work never runs', async () => {
    const { h, ctx } = setup('require');
    h.libvirt.freeze = 'fail';
    let ran = false;
    try {
      await withQuiesce(ctx, async () => { ran = true; });
      expect.fail('did not throw');
    } catch (err) {
      expect(isStorageError(err, 'QUIESCE_FAILED')).to.equal(true);
    }
    expect(ran).to.equal(false);
    expect(h.libvirt.calls).to.include('thaw');
  });

  it('under prefer, a failed freeze runs the work unquiesced and says why', async () => {
    const { h, ctx } = setup('prefer');
    h.libvirt.freeze = 'fail';
    const out = await withQuiesce(ctx, async () => 'done');
    expect(out.quiesced).to.equal(false);
    expect(out.note).to.match(/fsfreeze failed/);
  });

  it('bounds a freeze call that does not answer, and thaws', async () => {
    const { h, ctx } = setup('prefer', 2_000);
    h.libvirt.freeze = 'hang';
    const started = h.clock.now();
    const out = await withQuiesce(ctx, async () => 'done');
    expect(out.quiesced).to.equal(false);
    expect(out.note).to.match(/did not answer within 2000 ms/);
    expect(h.clock.now() - started).to.be.lessThan(3_600_000);
    expect(h.libvirt.calls.filter((c) => c === 'thaw').length).to.be.greaterThan(0);
  });

  it('thaws at the freeze bound even while the snapshot call is still running', async () => {
    const { h, ctx } = setup('require', 5_000);
    const out = await withQuiesce(ctx, async () => {
      await h.clock.sleep(60_000);
      return h.libvirt.frozen;
    });
    expect(out.result, 'the guest was thawed before the work ended').to.equal(false);
    expect(out.quiesced).to.equal(false);
    expect(out.note).to.match(/thawed after 5000 ms/);
  });

  it('with policy off never freezes', async () => {
    const { h, ctx } = setup('off');
    const out = await withQuiesce(ctx, async () => 1);
    expect(out.quiesced).to.equal(false);
    expect(h.libvirt.calls).to.deep.equal([]);
  });
});
