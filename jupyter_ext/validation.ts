/** The promote dialog's fields and their inline validation (pure logic, tested by jest). */
import type { IPromoteRequest, ParamValue } from './tokens';

/** How the job starts: a cron, an interval, after each successful run of another job, or on demand. */
export type ScheduleKind = 'cron' | 'every' | 'after' | 'none';

/** Which failures the retries retry (`cellfleet promote --retry-on`). */
export type RetryOn = 'infra' | 'all';

/** The dialog's fields, as typed. */
export interface IPromoteForm {
  notebook: string;
  name: string;
  scheduleKind: ScheduleKind;
  cron: string;
  every: string;
  params: string;
  retries: string;
  timeout: string;
  notify: string;
  fromRun: string;
  /** The upstream job's name, for `scheduleKind` `after`. */
  after: string;
  retryOn: RetryOn;
  /** One expectation per line, like `val_loss<0.2`. */
  expect: string;
}

export type FormErrors = Partial<Record<keyof IPromoteForm, string>>;

const DURATION = /^\s*\d+(\.\d+)?\s*(ms|s|sec|m|min|h|d)?\s*$/i;
const CRON_FIELD = /^[\d*/,\-A-Za-z?LW#]+$/;
const JOB_NAME = /^[0-9a-zA-Z_.-]{1,100}$/;
const NUMBER = String.raw`[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?`;
const EXPECTATION = new RegExp(String.raw`^[A-Za-z_][\w.:/-]*\s*(<=|>=|==|!=|<|>)\s*${NUMBER}$`);

/** The form for a notebook, its params prefilled from a run. */
export function initialForm(
  notebook: string,
  params: Record<string, ParamValue>,
  fromRun = ''
): IPromoteForm {
  const stem =
    notebook
      .split('/')
      .pop()
      ?.replace(/\.ipynb$/, '') ?? '';
  return {
    notebook,
    name: stem.replace(/[^0-9a-zA-Z_.-]/g, '-'),
    scheduleKind: 'cron',
    cron: '0 2 * * *',
    every: '1h',
    params: JSON.stringify(params, null, 2),
    retries: '2',
    timeout: '1h',
    notify: '',
    fromRun,
    after: '',
    retryOn: 'infra',
    expect: ''
  };
}

function durationError(text: string, what: string): string | undefined {
  if (!DURATION.test(text)) {
    return `${what} is a duration like 30s, 5m, 2h or 1d`;
  }
  return parseFloat(text) > 0 ? undefined : `${what} must be longer than 0`;
}

function cronError(text: string): string | undefined {
  const fields = text.trim().split(/\s+/);
  if (fields.length !== 5 || !fields.every(field => CRON_FIELD.test(field))) {
    return 'five fields: minute hour day month weekday, like 0 2 * * *';
  }
  return undefined;
}

function paramsError(text: string): string | undefined {
  if (!text.trim()) {
    return undefined;
  }
  try {
    const value = JSON.parse(text);
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      return 'a JSON object of parameter names to values, like {"lr": 0.001}';
    }
    const bad = Object.keys(value).find(key => !/^[A-Za-z_]\w*$/.test(key));
    return bad === undefined ? undefined : `"${bad}" is not a Python variable name`;
  } catch (error) {
    return `not JSON: ${(error as Error).message}`;
  }
}

function expectLines(text: string): string[] {
  return text
    .split('\n')
    .map(line => line.trim())
    .filter(line => line);
}

function expectError(text: string): string | undefined {
  const bad = expectLines(text).find(line => !EXPECTATION.test(line));
  return bad === undefined
    ? undefined
    : `"${bad}": write METRIC OP NUMBER, OP one of < <= > >= == !=, like val_loss<0.2`;
}

/** The fields' errors; an empty object means the form can be sent. */
export function validateForm(form: IPromoteForm): FormErrors {
  const errors: FormErrors = {};
  if (!form.notebook.endsWith('.ipynb')) {
    errors.notebook = 'open the notebook to promote (an .ipynb file)';
  }
  if (form.name && !JOB_NAME.test(form.name)) {
    errors.name = 'letters, digits, _ . and - only (up to 100)';
  }
  if (form.scheduleKind === 'cron') {
    errors.cron = cronError(form.cron);
  } else if (form.scheduleKind === 'every') {
    errors.every = durationError(form.every, 'every');
  } else if (form.scheduleKind === 'after' && !JOB_NAME.test(form.after.trim())) {
    errors.after = 'the name of the job whose successful runs start this one';
  }
  errors.expect = expectError(form.expect);
  errors.params = paramsError(form.params);
  if (!/^\d{1,2}$/.test(form.retries.trim())) {
    errors.retries = 'a whole number from 0 to 99';
  }
  if (form.timeout.trim()) {
    errors.timeout = durationError(form.timeout, 'timeout');
  }
  if (form.notify.trim() && !/^https?:\/\/\S+$/.test(form.notify.trim())) {
    errors.notify = 'an http:// or https:// URL';
  }
  return Object.fromEntries(Object.entries(errors).filter(([, message]) => message)) as FormErrors;
}

/** The request body for POST jobs (call after validateForm returned no errors). */
export function toRequest(form: IPromoteForm): IPromoteRequest {
  const request: IPromoteRequest = {
    notebook: form.notebook,
    retries: Number(form.retries),
    retry_on: form.retryOn
  };
  if (form.name) {
    request.name = form.name;
  }
  if (form.scheduleKind === 'cron') {
    request.cron = form.cron.trim();
  } else if (form.scheduleKind === 'every') {
    request.every = form.every.trim();
  } else if (form.scheduleKind === 'after') {
    request.after = form.after.trim();
  }
  if (expectLines(form.expect).length) {
    request.expect = expectLines(form.expect);
  }
  if (form.params.trim()) {
    request.params = JSON.parse(form.params);
  }
  if (form.timeout.trim()) {
    request.timeout = form.timeout.trim();
  }
  if (form.notify.trim()) {
    request.notify = form.notify.trim();
  }
  if (form.fromRun) {
    request.from_run = form.fromRun;
  }
  return request;
}
