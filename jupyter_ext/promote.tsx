/**
 * The promote dialog: schedule (or after another job), params prefilled from a run, retries
 * and which failures they retry, timeout, expectations on the final metrics, notify.
 */
import * as React from 'react';

import { IPromoteForm, RetryOn, validateForm } from './validation';

const SCHEDULE_LABELS = { cron: 'cron', every: 'every', after: 'after a job', none: 'on demand' };

interface IFieldProps {
  form: IPromoteForm;
  errors: Partial<Record<keyof IPromoteForm, string>>;
  name: keyof IPromoteForm;
  label: string;
  set: (name: keyof IPromoteForm, value: string) => void;
  multiline?: boolean;
}

function Field(props: IFieldProps): JSX.Element {
  const id = `cf-promote-${props.name}`;
  const error = props.errors[props.name];
  const common = {
    id,
    name: props.name,
    value: props.form[props.name],
    autoFocus: props.name === 'name',
    'aria-invalid': Boolean(error),
    'aria-describedby': error ? `${id}-error` : undefined,
    onChange: (event: React.ChangeEvent<HTMLInputElement | HTMLTextAreaElement>) =>
      props.set(props.name, event.target.value)
  };
  return (
    <div className="cf-field">
      <label htmlFor={id}>{props.label}</label>
      {props.multiline ? <textarea rows={4} {...common} /> : <input type="text" {...common} />}
      {error ? (
        <div className="cf-field-error" id={`${id}-error`} role="alert">
          {error}
        </div>
      ) : null}
    </div>
  );
}

/** The dialog; `submit` returns the server's refusal, or '' when the job was created. */
export function PromoteDialog(props: {
  initial: IPromoteForm;
  submit: (form: IPromoteForm) => Promise<string>;
  close: () => void;
}): JSX.Element {
  const [form, setForm] = React.useState(props.initial);
  const [refusal, setRefusal] = React.useState('');
  const [busy, setBusy] = React.useState(false);
  const errors = validateForm(form);
  React.useEffect(() => {
    const opener = document.activeElement as HTMLElement | null;
    return () => opener?.focus(); // back to the button that opened the dialog
  }, []);
  const set = (name: keyof IPromoteForm, value: string): void =>
    setForm({ ...form, [name]: value });
  const field = (name: keyof IPromoteForm, label: string, multiline = false): JSX.Element => (
    <Field form={form} errors={errors} name={name} label={label} set={set} multiline={multiline} />
  );
  const send = async (event: React.FormEvent): Promise<void> => {
    event.preventDefault();
    setBusy(true);
    const message = await props.submit(form);
    setBusy(false);
    message ? setRefusal(message) : props.close();
  };
  return (
    <div
      className="cf-modal"
      role="dialog"
      aria-modal="true"
      aria-labelledby="cf-promote-title"
      onKeyDown={event => event.key === 'Escape' && props.close()}
    >
      <form className="cf-dialog" onSubmit={send}>
        <h2 id="cf-promote-title">Promote {form.notebook || 'a notebook'} to a job</h2>
        {errors.notebook ? (
          <div className="cf-field-error" role="alert">
            {errors.notebook}
          </div>
        ) : null}
        {field('name', 'Job name')}
        <fieldset className="cf-field">
          <legend>Schedule</legend>
          {(['cron', 'every', 'after', 'none'] as const).map(kind => (
            <label key={kind} className="cf-radio">
              <input
                type="radio"
                name="scheduleKind"
                value={kind}
                checked={form.scheduleKind === kind}
                onChange={() => set('scheduleKind', kind)}
              />
              {SCHEDULE_LABELS[kind]}
            </label>
          ))}
        </fieldset>
        {form.scheduleKind === 'cron'
          ? field('cron', 'Cron (minute hour day month weekday)')
          : null}
        {form.scheduleKind === 'every' ? field('every', 'Every (30m, 2h, 1d)') : null}
        {form.scheduleKind === 'after'
          ? field('after', 'After each successful run of job (its outputs become parameters)')
          : null}
        {field('params', 'Parameters (JSON)', true)}
        {field('retries', 'Retries')}
        <div className="cf-field">
          <label htmlFor="cf-promote-retryOn">Retry</label>
          <select
            id="cf-promote-retryOn"
            value={form.retryOn}
            onChange={event => set('retryOn', event.target.value as RetryOn)}
          >
            <option value="infra">
              infrastructure failures only (not the notebook's own errors)
            </option>
            <option value="all">every failure</option>
          </select>
        </div>
        {field('timeout', 'Timeout (empty for none)')}
        {field('expect', 'Expect of the final metrics, one per line (like val_loss<0.2)', true)}
        {field('notify', 'Notify URL on failure (optional)')}
        {refusal ? (
          <div className="cf-error" role="alert">
            ⚠ {refusal}
          </div>
        ) : null}
        <div className="cf-dialog-buttons">
          <button type="button" className="jp-mod-styled jp-mod-reject" onClick={props.close}>
            Cancel
          </button>
          <button
            type="submit"
            className="jp-mod-styled jp-mod-accept"
            disabled={busy || Object.keys(errors).length > 0}
          >
            Promote
          </button>
        </div>
      </form>
    </div>
  );
}
