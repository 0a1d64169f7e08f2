/** What the chart tests share: a theme as readTheme() gives it in JupyterLab's light theme. */
import type { IChartTheme } from '../chartoptions';

export const THEME: IChartTheme = {
  name: 'JupyterLab Light:light',
  dark: false,
  font: 'sans-serif',
  text: '#212121',
  muted: '#616161',
  faint: '#9e9e9e',
  background: '#ffffff',
  border: '#e0e0e0',
  accent: '#1976d2'
};
