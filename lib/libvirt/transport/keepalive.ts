/**
 * libvirt's keepalive program: either side may send PING; the other answers PONG. Any message
 * received proves the peer alive, so pings go out only after `intervalMs` of silence, and the
 * connection is declared dead after `count` unanswered intervals (libvirt's own defaults: 5 s, 5).
 */

export interface KeepaliveOptions {
  intervalMs: number;
  count: number;
}

export const DEFAULT_KEEPALIVE: KeepaliveOptions = { intervalMs: 5000, count: 5 };

export interface KeepaliveStats {
  pingsReceived: number;
  pongsSent: number;
  pingsSent: number;
  pongsReceived: number;
}

export class Keepalive {
  readonly stats: KeepaliveStats = { pingsReceived: 0, pongsSent: 0, pingsSent: 0, pongsReceived: 0 };
  private timer: NodeJS.Timeout | undefined;
  private lastReceived = Date.now();
  private unanswered = 0;

  constructor(
    private readonly sendPing: () => void,
    private readonly onDead: (silentMs: number) => void,
  ) {}

  /** Start pinging the peer (only once it is known to speak the keepalive program). */
  start(options: KeepaliveOptions): void {
    this.stop();
    this.lastReceived = Date.now();
    this.timer = setInterval(() => this.tick(options), options.intervalMs);
    // A keepalive timer alone must not keep the process alive.
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  get running(): boolean {
    return this.timer !== undefined;
  }

  /** Any message from the peer. */
  received(): void {
    this.lastReceived = Date.now();
    this.unanswered = 0;
  }

  private tick(options: KeepaliveOptions): void {
    const silentMs = Date.now() - this.lastReceived;
    if (silentMs < options.intervalMs) return;
    if (this.unanswered >= options.count) {
      this.stop();
      this.onDead(silentMs);
      return;
    }
    this.unanswered++;
    this.stats.pingsSent++;
    this.sendPing();
  }
}
