import { expect } from 'chai';
import { KeyedMutex } from '../../../../lib/core/keyed-mutex.js';

const tick = () => new Promise((r) => setTimeout(r, 1));

describe('keyed mutex', () => {
  it('runs calls of one key one at a time, in call order', async () => {
    const m = new KeyedMutex();
    const events: string[] = [];
    let inside = 0;
    await Promise.all([1, 2, 3, 4].map((n) => m.run('dom', async () => {
      inside += 1;
      expect(inside, 'two calls inside at once').to.equal(1);
      events.push(`start ${n}`);
      await tick();
      events.push(`end ${n}`);
      inside -= 1;
    })));
    expect(events).to.deep.equal(['start 1', 'end 1', 'start 2', 'end 2', 'start 3', 'end 3', 'start 4', 'end 4']);
    expect(m.busyKeys).to.equal(0);
  });

  it('runs different keys in parallel', async () => {
    const m = new KeyedMutex();
    let inside = 0;
    let most = 0;
    await Promise.all(['a', 'b', 'c'].map((k) => m.run(k, async () => {
      inside += 1;
      most = Math.max(most, inside);
      await tick();
      inside -= 1;
    })));
    expect(most).to.equal(3);
  });

  it('a failing call releases the key and keeps its error; the next call runs', async () => {
    const m = new KeyedMutex();
    const failed = m.run('k', async () => { throw new Error('boom'); });
    const next = m.run('k', async () => 'ran');
    expect(await failed.catch((e: Error) => e.message)).to.equal('boom');
    expect(await next).to.equal('ran');
    expect(m.busyKeys).to.equal(0);
  });
});
