/**
 * Progress reporting for long CLI jobs. On a terminal it draws a live bar
 * (cli-progress); when output is piped or in CI it prints one line every few
 * seconds instead, so logs stay readable and still show that work goes on.
 */
import cliProgress from 'cli-progress';

export interface ProgressMetrics {
  [name: string]: number | string | undefined;
}

export interface ProgressBar {
  update(done: number, metrics?: ProgressMetrics): void;
  stop(): void;
}

export interface ProgressOptions {
  /** Label in front of the bar, e.g. `train`. */
  label: string;
  /** Total units of work (steps, items). */
  total: number;
  /** Unit name for rates, e.g. `img` → `img/s`. Default `it`. */
  unit?: string;
  /** Seconds between log lines when not on a TTY. Default 10. */
  logIntervalSeconds?: number;
  /** Stream to draw on. Default `process.stderr`. */
  stream?: NodeJS.WriteStream;
}

export function formatMetrics(metrics: ProgressMetrics): string {
  return Object.entries(metrics)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k} ${typeof v === 'number' ? formatNumber(v) : v}`)
    .join(' | ');
}

export function formatNumber(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e6)) return v.toExponential(2);
  if (Number.isInteger(v)) return String(v);
  return a >= 100 ? v.toFixed(1) : a >= 1 ? v.toFixed(3) : v.toFixed(4);
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : m > 0 ? `${m}m${String(r).padStart(2, '0')}s` : `${r}s`;
}

export function createProgress(options: ProgressOptions): ProgressBar {
  const stream = options.stream ?? process.stderr;
  const unit = options.unit ?? 'it';
  const started = Date.now();
  if (stream.isTTY && !process.env.CI) {
    const bar = new cliProgress.SingleBar(
      {
        stream,
        format: `${options.label} [{bar}] {percentage}% {value}/{total} | ETA {eta_formatted} | {metrics}`,
        hideCursor: true,
        etaBuffer: 50,
        fps: 5,
      },
      cliProgress.Presets.shades_classic,
    );
    bar.start(options.total, 0, { metrics: '' });
    return {
      update(done, metrics = {}) {
        bar.update(done, { metrics: formatMetrics(metrics) });
      },
      stop() {
        bar.stop();
      },
    };
  }
  const interval = (options.logIntervalSeconds ?? 10) * 1000;
  let lastLog = 0;
  let last = 0;
  const line = (done: number, metrics: ProgressMetrics) => {
    const elapsed = (Date.now() - started) / 1000;
    const rate = done / Math.max(elapsed, 1e-9);
    const eta = rate > 0 ? (options.total - done) / rate : Infinity;
    const pct = options.total > 0 ? ((100 * done) / options.total).toFixed(0) : '?';
    stream.write(
      `${options.label} ${done}/${options.total} (${pct}%) | ${formatNumber(rate)} ${unit}/s | ETA ${formatDuration(eta)}` +
        (Object.keys(metrics).length ? ` | ${formatMetrics(metrics)}` : '') +
        '\n',
    );
  };
  return {
    update(done, metrics = {}) {
      last = done;
      const now = Date.now();
      if (now - lastLog >= interval || done >= options.total) {
        lastLog = now;
        line(done, metrics);
      }
    },
    stop() {
      if (last < options.total && lastLog !== 0) line(last, {});
    },
  };
}
