import { initialForm, toRequest, validateForm } from '../validation';

describe('the promote form', () => {
  const form = initialForm('work/train model.ipynb', { lr: 0.01 }, 'abc123');

  it('prefills a valid form from the run', () => {
    expect(form.name).toBe('train-model');
    expect(JSON.parse(form.params)).toEqual({ lr: 0.01 });
    expect(validateForm(form)).toEqual({});
  });

  it('names each bad field with what to write instead', () => {
    const errors = validateForm({
      ...form,
      name: 'bad name!',
      cron: '0 2 * *',
      params: '{"1x": 2}',
      retries: '-1',
      timeout: 'soon',
      notify: 'ftp://x'
    });
    expect(Object.keys(errors).sort()).toEqual([
      'cron',
      'name',
      'notify',
      'params',
      'retries',
      'timeout'
    ]);
    expect(errors.cron).toContain('five fields');
    expect(errors.params).toContain('"1x"');
  });

  it('checks only the chosen schedule', () => {
    expect(validateForm({ ...form, scheduleKind: 'every', cron: 'nonsense', every: '0m' })).toEqual(
      {
        every: 'every must be longer than 0'
      }
    );
    expect(validateForm({ ...form, scheduleKind: 'none', cron: 'x', every: 'y' })).toEqual({});
  });

  it('refuses params that are not a JSON object', () => {
    expect(validateForm({ ...form, params: '[1, 2]' }).params).toContain('JSON object');
    expect(validateForm({ ...form, params: '{' }).params).toMatch(/^not JSON/);
  });

  it('builds the request the server expects', () => {
    expect(
      toRequest({ ...form, scheduleKind: 'every', every: ' 2h ', timeout: '', notify: '' })
    ).toEqual({
      notebook: 'work/train model.ipynb',
      name: 'train-model',
      every: '2h',
      params: { lr: 0.01 },
      retries: 2,
      retry_on: 'infra',
      from_run: 'abc123'
    });
  });

  it('starts a job after another one instead of on a schedule', () => {
    const after = { ...form, scheduleKind: 'after' as const, after: ' prep ' };
    expect(validateForm(after)).toEqual({});
    expect(toRequest(after)).toMatchObject({ after: 'prep' });
    expect(toRequest(after)).not.toHaveProperty('cron');
    expect(validateForm({ ...after, after: '' }).after).toContain('name of the job');
  });

  it('sends each expectation line and names a malformed one', () => {
    const expecting = {
      ...form,
      retryOn: 'all' as const,
      expect: 'val_loss < 0.2\n\n accuracy>=9e-1 '
    };
    expect(validateForm(expecting)).toEqual({});
    expect(toRequest(expecting)).toMatchObject({
      retry_on: 'all',
      expect: ['val_loss < 0.2', 'accuracy>=9e-1']
    });
    const errors = validateForm({ ...expecting, expect: 'loss<0.2\nloss is small' });
    expect(errors.expect).toContain('"loss is small": write METRIC OP NUMBER');
  });
});
