/**
 * Inline SVG icons (24×24, stroke = currentColor), drawn in the style of the Feather set.
 * Decorative: each is aria-hidden; the button around it carries the label.
 */
import { svg, type SVGTemplateResult } from 'lit'
import { html, type TemplateResult } from 'lit'

const PHONE = svg`<path d="M22 16.92v3a2 2 0 0 1-2.18 2 19.79 19.79 0 0 1-8.63-3.07 19.5 19.5 0 0 1-6-6 19.79 19.79 0 0 1-3.07-8.67A2 2 0 0 1 4.11 2h3a2 2 0 0 1 2 1.72c.13.96.36 1.9.7 2.81a2 2 0 0 1-.45 2.11L8.09 9.91a16 16 0 0 0 6 6l1.27-1.27a2 2 0 0 1 2.11-.45c.91.34 1.85.57 2.81.7A2 2 0 0 1 22 16.92z"/>`

const PATHS = {
  phone: PHONE,
  'phone-off': svg`<path d="M10.68 13.31a16 16 0 0 0 3.41 2.6l1.27-1.27a2 2 0 0 1 2.11-.45c.91.34 1.85.57 2.81.7a2 2 0 0 1 1.72 2v3a2 2 0 0 1-2.18 2 19.79 19.79 0 0 1-8.63-3.07 19.42 19.42 0 0 1-3.33-2.67m-2.67-3.34a19.79 19.79 0 0 1-3.07-8.63A2 2 0 0 1 4.11 2h3a2 2 0 0 1 2 1.72c.13.96.36 1.9.7 2.81a2 2 0 0 1-.45 2.11L8.09 9.91"/><line x1="23" y1="1" x2="1" y2="23"/>`,
  'phone-incoming': svg`<polyline points="16 2 16 8 22 8"/><line x1="23" y1="1" x2="16" y2="8"/>${PHONE}`,
  'phone-outgoing': svg`<polyline points="23 7 23 1 17 1"/><line x1="16" y1="8" x2="23" y2="1"/>${PHONE}`,
  'phone-missed': svg`<line x1="23" y1="1" x2="17" y2="7"/><line x1="17" y1="1" x2="23" y2="7"/>${PHONE}`,
  'phone-forwarded': svg`<polyline points="19 1 23 5 19 9"/><line x1="15" y1="5" x2="23" y2="5"/>${PHONE}`,
  mic: svg`<path d="M12 1a3 3 0 0 0-3 3v8a3 3 0 0 0 6 0V4a3 3 0 0 0-3-3z"/><path d="M19 10v2a7 7 0 0 1-14 0v-2"/><line x1="12" y1="19" x2="12" y2="23"/><line x1="8" y1="23" x2="16" y2="23"/>`,
  'mic-off': svg`<line x1="1" y1="1" x2="23" y2="23"/><path d="M9 9v3a3 3 0 0 0 5.12 2.12M15 9.34V4a3 3 0 0 0-5.94-.6"/><path d="M17 16.95A7 7 0 0 1 5 12v-2m14 0v2a7 7 0 0 1-.11 1.23"/><line x1="12" y1="19" x2="12" y2="23"/><line x1="8" y1="23" x2="16" y2="23"/>`,
  pause: svg`<rect x="6" y="4" width="4" height="16" rx="1"/><rect x="14" y="4" width="4" height="16" rx="1"/>`,
  play: svg`<polygon points="6 3 20 12 6 21 6 3"/>`,
  keypad: svg`<circle cx="5" cy="4" r="1.6"/><circle cx="12" cy="4" r="1.6"/><circle cx="19" cy="4" r="1.6"/><circle cx="5" cy="10" r="1.6"/><circle cx="12" cy="10" r="1.6"/><circle cx="19" cy="10" r="1.6"/><circle cx="5" cy="16" r="1.6"/><circle cx="12" cy="16" r="1.6"/><circle cx="19" cy="16" r="1.6"/><circle cx="12" cy="22" r="1.6"/>`,
  backspace: svg`<path d="M21 4H8l-7 8 7 8h13a2 2 0 0 0 2-2V6a2 2 0 0 0-2-2z"/><line x1="18" y1="9" x2="12" y2="15"/><line x1="12" y1="9" x2="18" y2="15"/>`,
  x: svg`<line x1="18" y1="6" x2="6" y2="18"/><line x1="6" y1="6" x2="18" y2="18"/>`,
  settings: svg`<line x1="4" y1="21" x2="4" y2="14"/><line x1="4" y1="10" x2="4" y2="3"/><line x1="12" y1="21" x2="12" y2="12"/><line x1="12" y1="8" x2="12" y2="3"/><line x1="20" y1="21" x2="20" y2="16"/><line x1="20" y1="12" x2="20" y2="3"/><line x1="1" y1="14" x2="7" y2="14"/><line x1="9" y1="8" x2="15" y2="8"/><line x1="17" y1="16" x2="23" y2="16"/>`,
  'log-out': svg`<path d="M9 21H5a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2h4"/><polyline points="16 17 21 12 16 7"/><line x1="21" y1="12" x2="9" y2="12"/>`,
  clock: svg`<circle cx="12" cy="12" r="10"/><polyline points="12 6 12 12 16 14"/>`,
  trash: svg`<polyline points="3 6 5 6 21 6"/><path d="M19 6v14a2 2 0 0 1-2 2H7a2 2 0 0 1-2-2V6m3 0V4a2 2 0 0 1 2-2h4a2 2 0 0 1 2 2v2"/>`,
  alert: svg`<circle cx="12" cy="12" r="10"/><line x1="12" y1="8" x2="12" y2="12"/><line x1="12" y1="16" x2="12.01" y2="16"/>`,
  info: svg`<circle cx="12" cy="12" r="10"/><line x1="12" y1="16" x2="12" y2="12"/><line x1="12" y1="8" x2="12.01" y2="8"/>`,
  activity: svg`<polyline points="22 12 18 12 15 21 9 3 6 12 2 12"/>`,
  volume: svg`<polygon points="11 5 6 9 2 9 2 15 6 15 11 19 11 5"/><path d="M19.07 4.93a10 10 0 0 1 0 14.14M15.54 8.46a5 5 0 0 1 0 7.07"/>`,
  user: svg`<path d="M20 21v-2a4 4 0 0 0-4-4H8a4 4 0 0 0-4 4v2"/><circle cx="12" cy="7" r="4"/>`,
  'chevron-down': svg`<polyline points="6 9 12 15 18 9"/>`,
  check: svg`<polyline points="20 6 9 17 4 12"/>`,
  message: svg`<path d="M21 15a2 2 0 0 1-2 2H7l-4 4V5a2 2 0 0 1 2-2h14a2 2 0 0 1 2 2z"/>`,
  send: svg`<line x1="22" y1="2" x2="11" y2="13"/><polygon points="22 2 15 22 11 13 2 9 22 2"/>`,
  'chevron-left': svg`<polyline points="15 18 9 12 15 6"/>`,
  shield: svg`<path d="M12 22s8-4 8-10V5l-8-3-8 3v7c0 6 8 10 8 10z"/>`,
} satisfies Record<string, SVGTemplateResult>

export type IconName = keyof typeof PATHS

/** An icon sized by the surrounding font (1em) unless `size` (px) is given. */
export function icon(name: IconName, size?: number): TemplateResult {
  const s = size ?? 20
  return html`<svg class="icon" width=${s} height=${s} viewBox="0 0 24 24" fill="none" stroke="currentColor"
    stroke-width="2" stroke-linecap="round" stroke-linejoin="round" aria-hidden="true" focusable="false">${PATHS[name]}</svg>`
}

/** The Patchbay mark: two jacks joined by a patch cable. */
export function logo(size = 28): TemplateResult {
  return html`<svg width=${size} height=${size} viewBox="0 0 32 32" aria-hidden="true" focusable="false">
    <rect x="1" y="1" width="30" height="30" rx="9" fill="var(--pb-accent)"/>
    <path d="M10 21c0-6 12-4 12-10" fill="none" stroke="#fff" stroke-width="2.4" stroke-linecap="round"/>
    <circle cx="10" cy="22" r="3.2" fill="#fff"/><circle cx="22" cy="10" r="3.2" fill="#fff"/>
  </svg>`
}
