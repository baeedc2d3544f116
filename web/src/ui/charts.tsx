import type { DeliveryStatsBucket } from '../overview/stats.js';

const WIDTH = 640;
const HEIGHT = 200;
const PAD = { top: 12, right: 12, bottom: 28, left: 44 };
const plotWidth = WIDTH - PAD.left - PAD.right;
const plotHeight = HEIGHT - PAD.top - PAD.bottom;

/** Inline SVG charts: a chart library would weigh more than the rest of the page. */
export function DeliveriesChart({ buckets, label }: { buckets: DeliveryStatsBucket[]; label: string }) {
  const max = Math.max(1, ...buckets.map((b) => b.succeeded + b.failed));
  const step = plotWidth / Math.max(1, buckets.length);
  const y = (value: number) => (value / max) * plotHeight;
  return (
    <svg class="chart" viewBox={`0 0 ${WIDTH} ${HEIGHT}`} role="img" aria-label={label}>
      <title>{label}</title>
      <Axis max={max} unit="" />
      {buckets.map((bucket, i) => {
        const x = PAD.left + i * step + step * 0.1;
        const width = Math.max(1, step * 0.8);
        const ok = y(bucket.succeeded);
        const failed = y(bucket.failed);
        const base = PAD.top + plotHeight;
        return (
          <g key={bucket.start}>
            <rect class="bar-succeeded" x={x} y={base - ok} width={width} height={ok} />
            <rect class="bar-failed" x={x} y={base - ok - failed} width={width} height={failed} />
          </g>
        );
      })}
      <TimeLabels buckets={buckets} />
    </svg>
  );
}

export function LatencyChart({ buckets, label }: { buckets: DeliveryStatsBucket[]; label: string }) {
  const max = Math.max(1, ...buckets.map((b) => b.p95Ms ?? b.p50Ms ?? 0));
  const step = plotWidth / Math.max(1, buckets.length - 1);
  const points = (pick: (b: DeliveryStatsBucket) => number | null) =>
    buckets.flatMap((bucket, i) => {
      const value = pick(bucket);
      if (value === null) return [];
      return [{ key: bucket.start, x: PAD.left + i * step, y: PAD.top + plotHeight - (value / max) * plotHeight }];
    });
  const p50 = points((b) => b.p50Ms);
  const p95 = points((b) => b.p95Ms);
  const line = (list: { x: number; y: number }[]) => list.map(({ x, y }) => `${x},${y}`).join(' ');
  return (
    <svg class="chart" viewBox={`0 0 ${WIDTH} ${HEIGHT}`} role="img" aria-label={label}>
      <title>{label}</title>
      <Axis max={max} unit=" ms" />
      <polyline class="line-p95" points={line(p95)} />
      <polyline class="line-p50" points={line(p50)} />
      {/* A dot per bucket: a period with one busy minute still shows its latency. */}
      {p95.map(({ key, x, y }) => (
        <circle key={`p95-${key}`} class="dot-p95" cx={x} cy={y} r={3} />
      ))}
      {p50.map(({ key, x, y }) => (
        <circle key={`p50-${key}`} class="dot-p50" cx={x} cy={y} r={3} />
      ))}
      <TimeLabels buckets={buckets} />
    </svg>
  );
}

function Axis({ max, unit }: { max: number; unit: string }) {
  return (
    <g class="axis">
      <line x1={PAD.left} y1={PAD.top + plotHeight} x2={WIDTH - PAD.right} y2={PAD.top + plotHeight} />
      <text x={PAD.left - 6} y={PAD.top + 8} text-anchor="end">
        {max}
        {unit}
      </text>
      <text x={PAD.left - 6} y={PAD.top + plotHeight} text-anchor="end">
        0
      </text>
    </g>
  );
}

const time = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });

function TimeLabels({ buckets }: { buckets: DeliveryStatsBucket[] }) {
  const first = buckets[0];
  const last = buckets[buckets.length - 1];
  if (!first || !last) return null;
  return (
    <g class="axis">
      <text x={PAD.left} y={HEIGHT - 8}>
        {time.format(new Date(first.start))}
      </text>
      <text x={WIDTH - PAD.right} y={HEIGHT - 8} text-anchor="end">
        {time.format(new Date(last.start))}
      </text>
    </g>
  );
}
