/**
 * The plugins: the Experiments sidebar, the compare and study views, the full-width runs
 * table, commands and the status-bar item.
 */
import { ILayoutRestorer, JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import {
  Dialog,
  ICommandPalette,
  MainAreaWidget,
  Notification,
  showDialog
} from '@jupyterlab/apputils';
import { INotebookTracker } from '@jupyterlab/notebook';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { KernelMessage } from '@jupyterlab/services';
import { IStatusBar } from '@jupyterlab/statusbar';
import { LabIcon } from '@jupyterlab/ui-components';

import { CellfleetApi, LiveFeed } from './api';
import { OutputNotebook } from './output';
import { ExperimentsPanel, RunsMainWidget } from './panel';
import { IRunActions } from './runs';
import { RunningStatus } from './status';
import { CommandIDs, IJob, IRun } from './tokens';

const ICON = new LabIcon({
  name: 'cellfleet:experiments',
  svgstr:
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24"><g class="jp-icon3" fill="#616161">' +
    '<path d="M9 2h6v2h-1v5.3l5.6 9.4A2 2 0 0 1 17.9 22H6.1a2 2 0 0 1-1.7-3.3L10 9.3V4H9z' +
    'M12 11.2 8.3 17h7.4z"/></g></svg>'
});

const RUN_ID = /^[0-9a-zA-Z_.-]+$/;

/** Run `%adopt RUN` in the active notebook's kernel; returns what it printed, or throws its error. */
async function adoptInKernel(tracker: INotebookTracker, run: IRun): Promise<string> {
  const kernel = tracker.currentWidget?.sessionContext.session?.kernel;
  if (!kernel) {
    throw new Error('open the notebook whose kernel ran this variant, and start its kernel');
  }
  if (!RUN_ID.test(run.id)) {
    throw new Error(`run id ${JSON.stringify(run.id)} is not valid`);
  }
  let printed = '';
  let failure = '';
  const future = kernel.requestExecute({ code: `%adopt ${run.id}`, store_history: false });
  future.onIOPub = message => {
    if (KernelMessage.isStreamMsg(message)) {
      printed += message.content.text;
    } else if (KernelMessage.isErrorMsg(message)) {
      failure = message.content.evalue;
    }
  };
  await future.done;
  if (failure) {
    throw new Error(failure);
  }
  return printed.trim();
}

/** The runs views show the active notebook's runs: set now, on every switch, and on a rename. */
function followActiveNotebook(tracker: INotebookTracker, show: (path: string) => void): void {
  const follow = (): void => show(tracker.currentWidget?.context.path ?? '');
  tracker.currentChanged.connect(follow);
  tracker.widgetAdded.connect((_, widget) => widget.context.pathChanged.connect(follow));
  tracker.forEach(widget => widget.context.pathChanged.connect(follow));
  follow();
}

async function confirmDelete(job: IJob): Promise<boolean> {
  const result = await showDialog({
    title: `Delete job ${job.name}?`,
    body: 'Its schedule stops; its past runs stay in the store.',
    buttons: [Dialog.cancelButton(), Dialog.warnButton({ label: 'Delete' })]
  });
  return result.button.accept;
}

/** Activate the main-area widget `id` when it is open; else add the one `make` gives. */
async function openOnce(
  app: JupyterFrontEnd,
  id: string,
  make: () => MainAreaWidget | Promise<MainAreaWidget>
): Promise<void> {
  const open = Array.from(app.shell.widgets('main')).find(widget => widget.id === id);
  if (open) {
    app.shell.activateById(id);
    return;
  }
  const widget = await make();
  widget.id = id;
  app.shell.add(widget, 'main');
  app.shell.activateById(id);
}

/** The study view of a search's run group, opened once per group. */
function addStudyCommand(app: JupyterFrontEnd, api: CellfleetApi, feed: LiveFeed): void {
  const compare = (ids: string[]) => void app.commands.execute(CommandIDs.compare, { ids });
  app.commands.addCommand(CommandIDs.study, {
    label: 'Open Study View',
    execute: args => {
      const groupId = String(args.groupId ?? '');
      // The charts (ECharts) load with the first compare or study view, not with the panel.
      return openOnce(app, `cellfleet-study-${groupId}`, async () => {
        const { StudyWidget } = await import('./study');
        const widget = new MainAreaWidget({
          content: new StudyWidget(api, feed, groupId, compare)
        });
        widget.addClass('cf-study-main');
        return widget;
      });
    }
  });
}

/** What the full-width runs table asks the application to do (the panel's own actions). */
function mainActions(app: JupyterFrontEnd, panel: ExperimentsPanel): IRunActions {
  const { commands } = app;
  return {
    compare: ids => void commands.execute(CommandIDs.compare, { ids }),
    adopt: run => void commands.execute(CommandIDs.adopt, { run } as never),
    openOutput: run => void commands.execute(CommandIDs.openOutput, { run } as never),
    promote: run => {
      app.shell.activateById(panel.id);
      panel.promote(run);
    },
    study: groupId => void commands.execute(CommandIDs.study, { groupId })
  };
}

/**
 * The runs table at full width (widget id `cellfleet-runs-main`); returns what shows a
 * notebook's runs in the sidebar and in it.
 */
function addRunsMainCommand(
  app: JupyterFrontEnd,
  api: CellfleetApi,
  feed: LiveFeed,
  panel: ExperimentsPanel
): (path: string) => void {
  let runsMain: RunsMainWidget | null = null;
  app.commands.addCommand(CommandIDs.openRunsMain, {
    label: 'Open Runs Table in Main Area',
    execute: () =>
      openOnce(app, 'cellfleet-runs-main', () => {
        runsMain = new RunsMainWidget(api, feed, mainActions(app, panel), panel.notebook);
        runsMain.title.label = 'Runs';
        runsMain.title.icon = ICON;
        runsMain.disposed.connect(() => (runsMain = null));
        return new MainAreaWidget({ content: runsMain });
      })
  });
  return path => {
    panel.notebook = path;
    if (runsMain) {
      runsMain.notebook = path;
    }
  };
}

function addCommands(
  app: JupyterFrontEnd,
  api: CellfleetApi,
  feed: LiveFeed,
  panel: ExperimentsPanel,
  tracker: INotebookTracker,
  rendermime: IRenderMimeRegistry
) {
  const { commands, shell } = app;
  commands.addCommand(CommandIDs.openPanel, {
    label: 'Show Experiments',
    execute: () => shell.activateById(panel.id)
  });
  commands.addCommand(CommandIDs.compare, {
    label: 'Compare Runs',
    execute: async args => {
      const { CompareWidget } = await import('./compare');
      const content = new CompareWidget(api, args.ids as string[], feed);
      const widget = new MainAreaWidget({ content });
      widget.title.label = `Compare ${(args.ids as string[]).length} runs`;
      shell.add(widget, 'main');
    }
  });
  commands.addCommand(CommandIDs.adopt, {
    label: 'Adopt Run',
    execute: async args => {
      try {
        Notification.success(await adoptInKernel(tracker, args.run as unknown as IRun), {
          autoClose: 5000
        });
      } catch (error) {
        Notification.error(`Adopt failed: ${(error as Error).message}`, { autoClose: 8000 });
      }
    }
  });
  commands.addCommand(CommandIDs.promote, {
    label: 'Promote Notebook to a Job…',
    execute: () => {
      shell.activateById(panel.id);
      panel.promote(null);
    }
  });
  commands.addCommand(CommandIDs.openOutput, {
    label: 'Open Output Notebook',
    execute: async args => {
      const run = args.run as unknown as IRun;
      try {
        const notebook = await api.outputNotebook(run.id);
        const widget = new MainAreaWidget({
          content: new OutputNotebook(run.id, notebook, rendermime)
        });
        widget.title.label = `Output of ${run.cell_name || run.id}`;
        shell.add(widget, 'main');
      } catch (error) {
        Notification.error(`Open output: ${(error as Error).message}`, { autoClose: 8000 });
      }
    }
  });
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'cellfleet:plugin',
  description: 'The Experiments sidebar: runs live, compare view, promotion and jobs.',
  autoStart: true,
  requires: [INotebookTracker, IRenderMimeRegistry],
  optional: [ILayoutRestorer, ICommandPalette, IStatusBar],
  activate: (
    app: JupyterFrontEnd,
    tracker: INotebookTracker,
    rendermime: IRenderMimeRegistry,
    restorer: ILayoutRestorer | null,
    palette: ICommandPalette | null,
    statusBar: IStatusBar | null
  ) => {
    const api = new CellfleetApi();
    const feed = new LiveFeed(api);
    const run = (id: string) => (value: unknown) => app.commands.execute(id, value as never);
    const panel = new ExperimentsPanel(api, feed, {
      compare: ids => void run(CommandIDs.compare)({ ids }),
      adopt: target => void run(CommandIDs.adopt)({ run: target }),
      openOutput: target => void run(CommandIDs.openOutput)({ run: target }),
      confirmDelete,
      notify: message => void Notification.success(message, { autoClose: 5000 }),
      study: groupId => void run(CommandIDs.study)({ groupId }),
      openRunsMain: () => void app.commands.execute(CommandIDs.openRunsMain)
    });
    panel.title.icon = ICON;
    app.shell.add(panel, 'left', { rank: 650 });
    restorer?.add(panel, panel.id);
    addCommands(app, api, feed, panel, tracker, rendermime);
    addStudyCommand(app, api, feed);
    followActiveNotebook(tracker, addRunsMainCommand(app, api, feed, panel));
    for (const command of [CommandIDs.openPanel, CommandIDs.promote, CommandIDs.openRunsMain]) {
      palette?.addItem({ command, category: 'Cellfleet' });
    }
    if (statusBar) {
      const item = new RunningStatus(feed, () => app.shell.activateById(panel.id));
      statusBar.registerStatusItem('cellfleet:running', { item, align: 'left', rank: 5 });
    }
    feed.start();
    // Fetch the charts' code (ECharts, ~600 kB) once the page is idle, so the first compare
    // or study view does not wait for it and startup does not either.
    void app.restored.then(() => window.setTimeout(() => void import('./study'), 2000));
  }
};

export default plugin;
