import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export interface Series {
  label: string;
  /** A CSS colour or a var(--x) whose value is read when the chart is drawn. */
  color: string;
  values: (number | null)[];
}

function resolveColor(color: string, el: Element): string {
  const v = /^var\((--[\w-]+)\)$/.exec(color);
  return v?.[1] ? getComputedStyle(el).getPropertyValue(v[1]).trim() || '#888' : color;
}

/**
 * A live time chart (uPlot: canvas, fast at thousands of points). The chart is created once and
 * fed new data with setData, so a refresh does not rebuild the DOM or move the layout.
 */
export function TimeChart(props: { title: string; times: number[]; series: Series[]; unit?: string; height?: number }) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const shape = props.series.map((s) => s.label).join('|');

  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const axisColor = resolveColor('var(--muted)', el);
    const gridColor = resolveColor('var(--grid)', el);
    const axis = { stroke: axisColor, grid: { stroke: gridColor, width: 1 }, ticks: { stroke: gridColor } };
    const options: uPlot.Options = {
      width: Math.max(el.clientWidth, 200),
      height: props.height ?? 160,
      series: [
        {},
        ...props.series.map((s) => ({
          label: s.label,
          stroke: resolveColor(s.color, el),
          width: 2,
          value: (_u: uPlot, v: number | null) => (v === null ? '—' : `${+v.toFixed(2)}${props.unit ?? ''}`),
        })),
      ],
      axes: [axis, { ...axis, size: 50 }],
      scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(1, max * 1.1)] } },
      legend: { live: true },
      cursor: { drag: { x: false, y: false } },
    };
    const u = new uPlot(options, [props.times, ...props.series.map((s) => s.values)], el);
    plot.current = u;
    const resize = new ResizeObserver(() =>
      u.setSize({ width: Math.max(el.clientWidth, 200), height: props.height ?? 160 }),
    );
    resize.observe(el);
    return () => {
      resize.disconnect();
      u.destroy();
      plot.current = null;
    };
  }, [shape]);

  useEffect(() => {
    plot.current?.setData([props.times, ...props.series.map((s) => s.values)]);
  });

  return (
    <figure class="chart">
      <figcaption>{props.title}</figcaption>
      <div ref={box} role="img" aria-label={`${props.title}: live chart`} />
    </figure>
  );
}
