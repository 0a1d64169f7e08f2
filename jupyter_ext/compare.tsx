/** The compare view: params side by side, best metrics, overlaid curves, images, durations. */
import { ReactWidget } from '@jupyterlab/ui-components';
import * as React from 'react';

import { CellfleetApi, LiveFeed } from './api';
import { LiveReload } from './live';
import type { ICurveRun } from './chartdata';
import { PALETTE } from './chartoptions';
import { MetricCurves } from './charts';
import {
  bestRuns,
  formatDuration,
  formatValue,
  metricNames,
  paramDiff,
  runDuration
} from './logic';
import type { ICompareResult, IRun } from './tokens';

const color = (i: number): string => PALETTE[i % PALETTE.length];

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

function Images(props: { api: CellfleetApi; runs: IRun[] }): JSX.Element | null {
  const [images, setImages] = React.useState<Record<string, Record<string, string>>>({});
  // Reloaded when a run starts or ends, not on every live refresh of the curves.
  const key = props.runs.map(run => `${run.id}:${run.status}`).join(',');
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
  }, [key]);
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
  const { runs, series, directions } = props.result;
  const curveRuns = React.useMemo<ICurveRun[]>(
    () => runs.map(run => ({ id: run.id, label: run.id, start: run.started ?? run.created })),
    [runs]
  );
  const colorOf = React.useMemo(() => {
    const index = new Map(runs.map((run, i) => [run.id, i]));
    return (id: string): string => color(index.get(id) ?? 0);
  }, [runs]);
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
      <MetricCurves runs={curveRuns} series={series} directions={directions} colorOf={colorOf} />
      <Images api={props.api} runs={runs} />
    </div>
  );
}

/** The compare view as a main-area widget for some runs, reloaded while any of them runs. */
export class CompareWidget extends ReactWidget {
  constructor(
    private readonly api: CellfleetApi,
    readonly runIds: string[],
    feed?: LiveFeed
  ) {
    super();
    this.addClass('cf-compare-widget');
    this.title.label = `Compare ${runIds.length} runs`;
    this.title.closable = true;
    const ids = new Set(runIds);
    const loaded = (result: ICompareResult | null, error: string): void => {
      // a failed refresh keeps the last result on screen
      this.result = result ?? this.result;
      this.error = this.result ? '' : error;
      this.update();
    };
    const load = () => this.api.compare(this.runIds);
    if (feed) {
      this.live = new LiveReload(
        feed,
        load,
        changed => changed.some(run => ids.has(run.id)),
        loaded
      );
      this.live.reload();
    } else {
      load().then(
        result => loaded(result, ''),
        error => loaded(null, (error as Error).message)
      );
    }
  }

  dispose(): void {
    this.live?.dispose();
    super.dispose();
  }

  protected render(): JSX.Element {
    if (this.error) {
      return <div className="cf-error">⚠ {this.error}</div>;
    }
    return this.result ? <CompareView api={this.api} result={this.result} /> : <div>loading…</div>;
  }

  private live: LiveReload<ICompareResult> | null = null;
  private result: ICompareResult | null = null;
  private error = '';
}
