/**
 * One request sent to both storage services at the same moment. Exactly one may be accepted
 * (202); the other must be refused with 409 and the stable code VOLUME_BUSY (the volume's lease
 * in the database decides, not which request was sent first). Counts who won.
 */
import { expect } from 'chai';
import type supertest from 'supertest';

export type Http = ReturnType<typeof supertest>;
export type Res = Awaited<ReturnType<Http['get']>>;

export const errorCode = (r: Res) => String(Object.values(r.body as Record<string, { error_code?: string }>)[0]?.error_code);

export class RacedPair {
  readonly tally = { pairs: 0, busy: 0, wonByA: 0, wonByB: 0 };

  constructor(private readonly a: Http, private readonly b: Http) {}

  /** Returns the accepted response. */
  async send(what: string, request: (http: Http) => Promise<Res>): Promise<Res> {
    const results = await Promise.all([this.a, this.b].map(request));
    const won = results.filter((r) => r.status === 202);
    const lost = results.filter((r) => r.status !== 202);
    expect(won.length, `${what}: ${JSON.stringify(results.map((r) => [r.status, r.body]))}`).to.equal(1);
    expect(lost[0]?.status, `${what}: loser ${JSON.stringify(lost[0]?.body)}`).to.equal(409);
    expect(errorCode(lost[0] as Res), what).to.equal('VOLUME_BUSY');
    this.tally.pairs += 1;
    this.tally.busy += 1;
    if (results[0]?.status === 202) this.tally.wonByA += 1; else this.tally.wonByB += 1;
    return won[0] as Res;
  }
}
