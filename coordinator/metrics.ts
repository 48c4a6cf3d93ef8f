/**
 * Prometheus text metrics, kept in memory: counters with labels and simple summaries (count, sum,
 * max). Small on purpose: the coordinator exports a handful of series.
 */
type Labels = Record<string, string>;

function key(name: string, labels: Labels): string {
  const parts = Object.entries(labels).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `${k}="${v.replace(/["\\\n]/g, '_')}"`);
  return parts.length ? `${name}{${parts.join(',')}}` : name;
}

export class Metrics {
  private readonly counters = new Map<string, number>();
  private readonly summaries = new Map<string, { count: number; sum: number; max: number }>();
  private readonly gauges = new Map<string, () => number>();
  private readonly help = new Map<string, string>();

  describe(name: string, help: string): void {
    this.help.set(name, help);
  }

  inc(name: string, labels: Labels = {}, by = 1): void {
    const k = key(name, labels);
    this.counters.set(k, (this.counters.get(k) ?? 0) + by);
  }

  observe(name: string, value: number, labels: Labels = {}): void {
    const k = key(name, labels);
    const s = this.summaries.get(k) ?? { count: 0, sum: 0, max: 0 };
    s.count += 1;
    s.sum += value;
    s.max = Math.max(s.max, value);
    this.summaries.set(k, s);
  }

  gauge(name: string, read: () => number): void {
    this.gauges.set(name, read);
  }

  render(): string {
    const lines: string[] = [];
    for (const [name, text] of this.help) lines.push(`# HELP ${name} ${text}`);
    for (const [k, v] of this.counters) lines.push(`${k} ${v}`);
    for (const [k, s] of this.summaries) {
      const [name, rest = ''] = k.split(/(?=\{)/);
      lines.push(`${name}_count${rest} ${s.count}`, `${name}_sum${rest} ${s.sum}`, `${name}_max${rest} ${s.max}`);
    }
    for (const [name, read] of this.gauges) lines.push(`${name} ${read()}`);
    return `${lines.join('\n')}\n`;
  }
}
