/**
 * Prometheus text exposition without a client library: request counters and a latency
 * histogram per (method, route, status), plus gauges that are read at scrape time.
 */
import type { NextFunction, Request, Response } from 'express';

const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

interface Series {
  count: number;
  sum: number;
  buckets: number[];
}

export class Metrics {
  private readonly series = new Map<string, Series>();

  observe(method: string, route: string, status: number, seconds: number): void {
    const key = JSON.stringify([method, route, String(status)]);
    let s = this.series.get(key);
    if (!s) {
      s = { count: 0, sum: 0, buckets: BUCKETS.map(() => 0) };
      this.series.set(key, s);
    }
    s.count++;
    s.sum += seconds;
    BUCKETS.forEach((b, i) => { if (seconds <= b) (s as Series).buckets[i]! += 1; });
  }

  middleware() {
    return (req: Request, res: Response, next: NextFunction): void => {
      const start = process.hrtime.bigint();
      res.on('finish', () => {
        // The matched route pattern, not the URL, so ids do not explode the label set.
        const route = (req.route as { path?: string } | undefined)?.path ?? 'unmatched';
        this.observe(req.method, route, res.statusCode, Number(process.hrtime.bigint() - start) / 1e9);
      });
      next();
    };
  }

  render(gauges: Record<string, { help: string; values: Record<string, number>; label: string }>): string {
    const out: string[] = [
      '# HELP qcowshare_http_requests_total HTTP requests by method, route and status.',
      '# TYPE qcowshare_http_requests_total counter',
    ];
    const hist: string[] = [
      '# HELP qcowshare_http_request_duration_seconds HTTP request latency.',
      '# TYPE qcowshare_http_request_duration_seconds histogram',
    ];
    for (const [key, s] of this.series) {
      const [method, route, status] = JSON.parse(key) as [string, string, string];
      const labels = `method="${method}",route="${esc(route)}",status="${status}"`;
      out.push(`qcowshare_http_requests_total{${labels}} ${s.count}`);
      BUCKETS.forEach((b, i) => hist.push(`qcowshare_http_request_duration_seconds_bucket{${labels},le="${b}"} ${s.buckets[i]}`));
      hist.push(`qcowshare_http_request_duration_seconds_bucket{${labels},le="+Inf"} ${s.count}`);
      hist.push(`qcowshare_http_request_duration_seconds_sum{${labels}} ${s.sum}`);
      hist.push(`qcowshare_http_request_duration_seconds_count{${labels}} ${s.count}`);
    }
    for (const [name, g] of Object.entries(gauges)) {
      out.push(`# HELP ${name} ${g.help}`, `# TYPE ${name} gauge`);
      for (const [value, n] of Object.entries(g.values)) out.push(`${name}{${g.label}="${esc(value)}"} ${n}`);
    }
    return [...out, ...hist, ''].join('\n');
  }
}

function esc(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}
