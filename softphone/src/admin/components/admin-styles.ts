/**
 * Styles shared by the admin page's elements, on top of the softphone's sharedStyles (same
 * `--pb-*` custom properties from admin.html): section headers, data tables, state badges,
 * notices and filter forms.
 */
import { css } from 'lit'

export const adminStyles = css`
  :host { display: block; }
  .section-head { display: flex; align-items: flex-end; justify-content: space-between; gap: 16px; flex-wrap: wrap; margin: 0 0 18px; }
  .section-head h2 { margin: 0; font-size: 22px; line-height: 1.25; letter-spacing: -.01em; }
  .section-head p { margin: 4px 0 0; color: var(--pb-text-2); font-size: 14px; }
  .head-actions { display: flex; align-items: center; gap: 8px; }
  .updated { font-size: 12px; color: var(--pb-text-3); }
  .panel { overflow: hidden; }
  .panel-head { display: flex; align-items: center; justify-content: space-between; gap: 12px; padding: 16px 20px 12px; }
  .panel-head h3 { margin: 0; font-size: 15px; font-weight: 700; }
  .table-wrap { overflow-x: auto; }
  table { width: 100%; border-collapse: collapse; font-size: 14px; }
  caption { text-align: left; }
  th {
    text-align: left; font-size: 12px; font-weight: 700; color: var(--pb-text-3); text-transform: uppercase; letter-spacing: .05em;
    padding: 10px 14px; background: var(--pb-surface-2); border-bottom: 1px solid var(--pb-border); white-space: nowrap;
  }
  td { padding: 12px 14px; border-bottom: 1px solid var(--pb-border); vertical-align: middle; white-space: nowrap; }
  td.wrap { white-space: normal; min-width: 220px; }
  .btn { white-space: nowrap; }
  tbody tr:last-child td { border-bottom: none; }
  tbody tr:hover td { background: color-mix(in srgb, var(--pb-surface-2) 55%, transparent); }
  td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
  td.actions { text-align: right; white-space: nowrap; }
  .primary-cell { font-weight: 600; }
  .sub { display: block; font-size: 12px; color: var(--pb-text-3); margin-top: 2px; font-weight: 400; }
  .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace; font-size: 13px; }
  .ellipsis { max-width: 280px; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
  .badge {
    display: inline-flex; align-items: center; gap: 6px; padding: 3px 10px; border-radius: 999px; font-size: 12px; font-weight: 700;
    background: var(--pb-surface-2); color: var(--pb-text-2); white-space: nowrap;
  }
  .badge::before { content: ''; width: 7px; height: 7px; border-radius: 50%; background: currentColor; opacity: .85; }
  .badge.plain::before { display: none; }
  .badge.good { background: var(--pb-green-soft); color: var(--pb-green-text); }
  .badge.warn { background: var(--pb-amber-soft); color: var(--pb-amber-text); }
  .badge.bad { background: var(--pb-red-soft); color: var(--pb-red-text); }
  .badge.info { background: var(--pb-accent-soft); color: var(--pb-accent-text); }
  .empty { padding: 40px 20px; text-align: center; color: var(--pb-text-2); }
  .empty .icon { margin: 0 auto 10px; color: var(--pb-text-3); }
  .empty strong { display: block; color: var(--pb-text); margin-bottom: 4px; }
  .notice {
    display: flex; align-items: flex-start; gap: 10px; padding: 12px 14px; border-radius: var(--pb-radius-sm); font-size: 14px; font-weight: 500;
    margin: 0 0 16px;
  }
  .notice.error { background: var(--pb-red-soft); color: var(--pb-red-text); }
  .notice.info { background: var(--pb-accent-soft); color: var(--pb-accent-text); }
  .notice.ok { background: var(--pb-green-soft); color: var(--pb-green-text); }
  .notice .icon { margin-top: 1px; }
  .btn.small { min-height: 32px; padding: 0 12px; font-size: 13px; }
  .btn.danger { color: var(--pb-red-text); border-color: color-mix(in srgb, var(--pb-red) 35%, var(--pb-border)); }
  .btn.danger:hover:not(:disabled) { background: var(--pb-red-soft); }
  .btn.danger.confirm { background: var(--pb-red); border-color: var(--pb-red); color: #fff; }
  .field.compact { min-height: 38px; padding: 7px 10px; font-size: 14px; }
  select.field { appearance: none; background-image: linear-gradient(45deg, transparent 50%, var(--pb-text-2) 50%), linear-gradient(135deg, var(--pb-text-2) 50%, transparent 50%);
    background-position: calc(100% - 16px) 50%, calc(100% - 11px) 50%; background-size: 5px 5px; background-repeat: no-repeat; padding-right: 30px; }
  code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: .92em; background: var(--pb-surface-2); padding: 1px 6px; border-radius: 6px; }
`
