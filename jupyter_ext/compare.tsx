/** The compare view: params side by side, best metrics, overlaid curves, images, durations. */
import { ReactWidget } from '@jupyterlab/ui-components';
import * as React from 'react';

import { CellfleetApi } from './api';
import {
  bestRuns,
  chartSeries,
  formatDuration,
  formatValue,
  IChart,
  metricNames,
  paramDiff,
  runDuration,
  svgPath
} from './logic';
import type { ICompareResult, IRun } from './tokens';

const COLORS = [
  '#1f77b4',
  '#ff7f0e',
  '#2ca02c',
  '#d62728',
  '#9467bd',
  '#8c564b',
  '#e377c2',
  '#17becf'
];
const color = (i: number): string => COLORS[i % COLORS.length];

function ParamsTable(props: { runs: IRun[] }): JSX.Element {
  const rows = paramDiff(props.runs);
  return (
    <table className="cf-compare-table">
      <caption>Parameters {rows.some(r => r.differs) ? '(differences highlighted)' : ''}</caption>
      <tbody>
        {rows.map(row => (
          <tr key={row.name} className={row.differs ? 'cf-differs' : ''}>
            <th scope="row">{row.name}</th>
            {row.values.map((value, i) => (
              <td key={i}>{formatValue(value)}</td>
            ))}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function MetricsTable(props: { result: ICompareResult }): JSX.Element {
  const { runs, final_metrics, directions } = props.result;
  const best = bestRuns(final_metrics, directions);
  return (
    <table className="cf-compare-table">
      <caption>Final metrics (best marked ★)</caption>
      <tbody>
        {metricNames(final_metrics).map(metric => (
          <tr key={metric}>
            <th scope="row">
              {metric} {directions[metric] === 'min' ? '↓' : '↑'}
            </th>
            {runs.map(run => {
              const isBest = best[metric]?.includes(run.id);
              return (
                <td key={run.id} className={isBest ? 'cf-best' : ''}>
                  {formatValue(final_metrics[run.id]?.[metric])}
                  {isBest ? <span aria-label="best"> ★</span> : null}
                </td>
              );
            })}
          </tr>
        ))}
        <tr>
          <th scope="row">duration</th>
          {runs.map(run => (
            <td key={run.id}>{formatDuration(runDuration(run))}</td>
          ))}
        </tr>
        <tr>
          <th scope="row">GPU</th>
          {runs.map(run => (
            <td key={run.id}>{run.gpu || run.worker || '—'}</td>
          ))}
        </tr>
      </tbody>
    </table>
  );
}

function Chart(props: { chart: IChart; runIds: string[] }): JSX.Element {
  const [width, height] = [360, 150];
  const { chart } = props;
  return (
    <figure className="cf-chart">
      <figcaption>{chart.metric}</figcaption>
      <svg
        viewBox={`-4 -4 ${width + 8} ${height + 8}`}
        role="img"
        aria-label={`${chart.metric} for ${chart.lines.length} runs, from ${formatValue(chart.yMin)} to ${formatValue(chart.yMax)}`}
      >
        <rect className="cf-chart-frame" x={0} y={0} width={width} height={height} />
        {chart.lines.map(line => (
          <path
            key={line.runId}
            d={svgPath(line, chart, width, height)}
            stroke={color(props.runIds.indexOf(line.runId))}
            fill="none"
            strokeWidth={1.5}
          />
        ))}
      </svg>
      <div className="cf-chart-range">
        y {formatValue(chart.yMin)} … {formatValue(chart.yMax)} · step {chart.xMin} … {chart.xMax}
      </div>
    </figure>
  );
}

function Images(props: { api: CellfleetApi; runs: IRun[] }): JSX.Element | null {
  const [images, setImages] = React.useState<Record<string, Record<string, string>>>({});
  React.useEffect(() => {
    const urls: string[] = [];
    let current = true;
    const load = async (): Promise<void> => {
      const found: Record<string, Record<string, string>> = {};
      for (const run of props.runs) {
        const detail = await props.api.getRun(run.id);
        for (const artifact of detail.artifacts.filter(a => a.media_type.startsWith('image/'))) {
          try {
            const url = URL.createObjectURL(await props.api.artifact(run.id, artifact.id));
            urls.push(url);
            (found[artifact.name] ??= {})[run.id] = url;
          } catch {
            // a missing file leaves a dash in its cell; the other images still show
          }
        }
      }
      if (current) {
        setImages(found);
      } else {
        urls.forEach(url => URL.revokeObjectURL(url));
      }
    };
    void load().catch(() => current && setImages({}));
    return () => {
      current = false;
      urls.forEach(url => URL.revokeObjectURL(url));
    };
  }, [props.runs]);
  const names = Object.keys(images).sort();
  if (!names.length) {
    return null;
  }
  return (
    <table className="cf-compare-table cf-images">
      <caption>Images</caption>
      <tbody>
        {names.map(name => (
          <tr key={name}>
            <th scope="row">{name}</th>
            {props.runs.map(run => (
              <td key={run.id}>
                {images[name][run.id] ? (
                  <img src={images[name][run.id]} alt={`${name} of run ${run.id}`} />
                ) : (
                  '—'
                )}
              </td>
            ))}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** The whole compare view for a result from `compare`. */
export function CompareView(props: { api: CellfleetApi; result: ICompareResult }): JSX.Element {
  const { runs, series } = props.result;
  const ids = runs.map(run => run.id);
  const charts = chartSeries(series, ids);
  return (
    <div className="cf-compare" aria-label="compare runs">
      <table className="cf-compare-table cf-legend">
        <thead>
          <tr>
            <th scope="col">run</th>
            {runs.map((run, i) => (
              <th key={run.id} scope="col">
                <span className="cf-swatch" style={{ background: color(i) }} aria-hidden="true" />
                {run.id} · {run.status}
              </th>
            ))}
          </tr>
        </thead>
      </table>
      <ParamsTable runs={runs} />
      <MetricsTable result={props.result} />
      <div className="cf-charts">
        {charts.map(chart => (
          <Chart key={chart.metric} chart={chart} runIds={ids} />
        ))}
      </div>
      <Images api={props.api} runs={runs} />
    </div>
  );
}

/** The compare view as a main-area widget for some runs. */
export class CompareWidget extends ReactWidget {
  constructor(
    private readonly api: CellfleetApi,
    readonly runIds: string[]
  ) {
    super();
    this.addClass('cf-compare-widget');
    this.title.label = `Compare ${runIds.length} runs`;
    this.title.closable = true;
    void this.load();
  }

  private async load(): Promise<void> {
    try {
      this.result = await this.api.compare(this.runIds);
    } catch (error) {
      this.error = (error as Error).message;
    }
    this.update();
  }

  protected render(): JSX.Element {
    if (this.error) {
      return <div className="cf-error">⚠ {this.error}</div>;
    }
    return this.result ? <CompareView api={this.api} result={this.result} /> : <div>loading…</div>;
  }

  private result: ICompareResult | null = null;
  private error = '';
}
