/**
 * A production run's executed notebook, read-only: each cell's source, then its outputs
 * rendered by JupyterLab's rendermime as untrusted (HTML sanitized, no scripts). The file
 * lives in the store's hidden folder, which JupyterLab's file browser does not open.
 */
import type * as nbformat from '@jupyterlab/nbformat';
import { OutputArea, OutputAreaModel } from '@jupyterlab/outputarea';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { Panel, Widget } from '@lumino/widgets';

function sourceText(cell: nbformat.ICell): string {
  return Array.isArray(cell.source) ? cell.source.join('') : cell.source;
}

function sourceWidget(cell: nbformat.ICell): Widget {
  const pre = document.createElement('pre');
  pre.className = `cf-output-source cf-output-${cell.cell_type}`;
  pre.textContent = sourceText(cell);
  return new Widget({ node: pre });
}

/** The viewer of one run's output notebook. */
export class OutputNotebook extends Panel {
  constructor(runId: string, notebook: nbformat.INotebookContent, rendermime: IRenderMimeRegistry) {
    super();
    this.addClass('cf-output-notebook');
    this.title.label = `Output of run ${runId}`;
    this.title.closable = true;
    for (const cell of notebook.cells) {
      this.addWidget(sourceWidget(cell));
      if (cell.cell_type === 'code') {
        const model = new OutputAreaModel({
          values: (cell as nbformat.ICodeCell).outputs,
          trusted: false
        });
        this.addWidget(new OutputArea({ model, rendermime }));
      }
    }
  }
}
