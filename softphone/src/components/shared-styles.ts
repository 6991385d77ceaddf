/**
 * Styles shared by the pb- elements. Colours, radii and fonts come from the custom
 * properties set on :root in index.html (they pierce shadow roots), so a page can re-theme
 * the phone by overriding `--pb-*`.
 */
import { css } from 'lit'

export const sharedStyles = css`
  :host {
    font-family: var(--pb-font);
    color: var(--pb-text);
    box-sizing: border-box;
  }
  *, *::before, *::after { box-sizing: inherit; }
  .icon { display: block; flex: none; }
  button {
    font: inherit;
    color: inherit;
    cursor: pointer;
    -webkit-tap-highlight-color: transparent;
  }
  button:disabled { cursor: not-allowed; opacity: 0.45; }
  :is(button, input, select, a, [tabindex]):focus-visible {
    outline: none;
    box-shadow: var(--pb-focus);
  }
  .sr-only {
    position: absolute; width: 1px; height: 1px; padding: 0; margin: -1px;
    overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; border: 0;
  }
  .btn {
    display: inline-flex; align-items: center; justify-content: center; gap: 8px;
    min-height: 40px; padding: 0 16px; border-radius: var(--pb-radius-sm);
    border: 1px solid var(--pb-border); background: var(--pb-surface);
    font-weight: 600; font-size: 14px; transition: background-color .15s, border-color .15s;
  }
  .btn:hover:not(:disabled) { background: var(--pb-surface-2); }
  .btn.primary { background: var(--pb-accent); border-color: var(--pb-accent); color: #fff; }
  .btn.primary:hover:not(:disabled) { background: var(--pb-accent-strong); }
  .btn.ghost { border-color: transparent; background: transparent; color: var(--pb-text-2); }
  .btn.ghost:hover:not(:disabled) { background: var(--pb-surface-2); color: var(--pb-text); }
  .icon-btn {
    display: inline-grid; place-items: center; width: 40px; height: 40px; padding: 0;
    border-radius: 50%; border: none; background: transparent; color: var(--pb-text-2);
  }
  .icon-btn:hover:not(:disabled) { background: var(--pb-surface-2); color: var(--pb-text); }
  .field {
    display: block; width: 100%; min-height: 44px; padding: 10px 12px; font: inherit; font-size: 15px;
    color: var(--pb-text); background: var(--pb-surface); border: 1px solid var(--pb-border-strong);
    border-radius: var(--pb-radius-sm); transition: border-color .15s, box-shadow .15s;
  }
  .field:hover { border-color: var(--pb-text-3); }
  .field:focus { outline: none; border-color: var(--pb-accent); box-shadow: var(--pb-focus); }
  label.label { display: block; font-size: 13px; font-weight: 600; color: var(--pb-text-2); margin: 0 0 6px; }
  .card {
    background: var(--pb-surface); border: 1px solid var(--pb-border); border-radius: var(--pb-radius);
    box-shadow: var(--pb-shadow);
  }
  .muted-text { color: var(--pb-text-2); }
  .tabular { font-variant-numeric: tabular-nums; }
`
