/** The status-bar item: how many remote cells and variants are running now. */
import { ReactWidget } from '@jupyterlab/ui-components';
import * as React from 'react';

import { LiveFeed } from './api';
import { activeCounts } from './logic';
import type { IRun } from './tokens';

export class RunningStatus extends ReactWidget {
  constructor(
    feed: LiveFeed,
    private readonly open: () => void
  ) {
    super();
    this.addClass('cf-statusbar');
    feed.changed.connect((_: LiveFeed, runs: IRun[]) => {
      this.counts = activeCounts(runs);
      this.update();
    });
  }

  protected render(): JSX.Element {
    const { cells, variants } = this.counts;
    const text = cells || variants ? `⚡ ${cells} remote · ${variants} variants` : '⚡ idle';
    return (
      <button
        className="cf-statusbar-button"
        title="Cellfleet: running remote cells and variants (open Experiments)"
        aria-label={`Cellfleet: ${cells} remote cells and ${variants} variants running`}
        onClick={this.open}
      >
        {text}
      </button>
    );
  }

  private counts = { cells: 0, variants: 0 };
}
