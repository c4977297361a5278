/**
 * The console's look, shared by every component through its shadow root (constructable stylesheets:
 * no global CSS, nothing inline, so the page's Content-Security-Policy needs no 'unsafe-inline').
 * Colours keep a 4.5:1 contrast on their backgrounds.
 */
import { css } from 'lit';

export const base = css`
  :host {
    display: block;
    font-family:
      system-ui,
      -apple-system,
      'Segoe UI',
      Roboto,
      sans-serif;
    font-size: 15px;
    line-height: 1.45;
    color: #1b1f24;
    --accent: #0b57d0;
    --danger: #b3261e;
    --muted: #4d5561;
    --border: #c9ced6;
    --surface: #f4f6f9;
  }
  *,
  *::before,
  *::after {
    box-sizing: border-box;
  }
  h1,
  h2,
  h3 {
    line-height: 1.2;
    margin: 0 0 0.6em;
  }
  h1 {
    font-size: 1.5rem;
  }
  h2 {
    font-size: 1.2rem;
  }
  h3 {
    font-size: 1.05rem;
  }
  a {
    color: var(--accent);
  }
  button {
    font: inherit;
    padding: 0.4em 0.9em;
    border-radius: 6px;
    border: 1px solid var(--accent);
    background: #fff;
    color: var(--accent);
    cursor: pointer;
    min-height: 2.25em;
  }
  button.primary {
    background: var(--accent);
    color: #fff;
  }
  button.danger {
    border-color: var(--danger);
    color: var(--danger);
  }
  button.danger.primary {
    background: var(--danger);
    color: #fff;
  }
  button[aria-disabled='true'],
  button:disabled {
    border-color: #8a919c;
    background: #eceef1;
    color: #4d5561;
    cursor: not-allowed;
  }
  button.link {
    border: none;
    background: none;
    padding: 0;
    min-height: 0;
    text-decoration: underline;
    text-align: left;
  }
  :focus-visible {
    outline: 3px solid #f2a900;
    outline-offset: 2px;
  }
  label {
    display: block;
    font-weight: 600;
    margin: 0.7em 0 0.2em;
  }
  label.inline {
    display: inline-flex;
    gap: 0.4em;
    align-items: center;
    font-weight: normal;
    margin: 0.2em 1em 0.2em 0;
  }
  input,
  select,
  textarea {
    font: inherit;
    padding: 0.35em 0.5em;
    border: 1px solid #767d88;
    border-radius: 6px;
    max-width: 100%;
  }
  input[type='text'],
  input[type='search'],
  input[type='password'],
  input[type='number'],
  input[type='datetime-local'],
  textarea {
    width: 28em;
  }
  textarea {
    min-height: 8em;
    font-family: ui-monospace, monospace;
    font-size: 0.85rem;
  }
  fieldset {
    border: 1px solid var(--border);
    border-radius: 8px;
    margin: 0.8em 0;
    padding: 0.5em 1em 0.8em;
  }
  legend {
    font-weight: 600;
    padding: 0 0.3em;
  }
  .hint {
    color: var(--muted);
    font-size: 0.9rem;
    margin: 0.2em 0;
  }
  .row {
    display: flex;
    flex-wrap: wrap;
    gap: 0.6em;
    align-items: center;
  }
  .spread {
    display: flex;
    flex-wrap: wrap;
    gap: 0.6em;
    align-items: center;
    justify-content: space-between;
  }
  .error {
    border: 1px solid var(--danger);
    background: #fdecea;
    color: #7d1a14;
    padding: 0.6em 0.8em;
    border-radius: 6px;
    margin: 0.6em 0;
  }
  .warning {
    border: 1px solid #8a5a00;
    background: #fff4e0;
    color: #5c3c00;
    padding: 0.6em 0.8em;
    border-radius: 6px;
    margin: 0.6em 0;
  }
  .notice {
    border: 1px solid #1e6b34;
    background: #e8f5ec;
    color: #14532a;
    padding: 0.6em 0.8em;
    border-radius: 6px;
    margin: 0.6em 0;
  }
  .table-wrap {
    overflow-x: auto;
  }
  table {
    border-collapse: collapse;
    width: 100%;
  }
  th,
  td {
    text-align: left;
    padding: 0.45em 0.6em;
    border-bottom: 1px solid var(--border);
    vertical-align: top;
  }
  th {
    background: var(--surface);
    font-size: 0.85rem;
    text-transform: uppercase;
    letter-spacing: 0.02em;
    color: #343a42;
  }
  code,
  .mono {
    font-family: ui-monospace, monospace;
    font-size: 0.85rem;
    overflow-wrap: anywhere;
  }
  .badge {
    display: inline-block;
    padding: 0.05em 0.55em;
    border-radius: 999px;
    font-size: 0.8rem;
    font-weight: 600;
    border: 1px solid currentColor;
    white-space: nowrap;
  }
  .badge.active {
    color: #14532a;
    background: #e8f5ec;
  }
  .badge.disabled,
  .badge.expired {
    color: #5c3c00;
    background: #fff4e0;
  }
  .badge.archived,
  .badge.revoked {
    color: #343a42;
    background: #eceef1;
  }
  .badge.primary-slot {
    color: #0b3d91;
    background: #e6eefc;
  }
  dialog {
    border: 1px solid var(--border);
    border-radius: 10px;
    padding: 1.2em 1.4em;
    max-width: min(40em, 94vw);
    box-shadow: 0 10px 40px rgba(0, 0, 0, 0.25);
  }
  dialog::backdrop {
    background: rgba(20, 24, 30, 0.45);
  }
  dl.meta {
    display: grid;
    grid-template-columns: max-content 1fr;
    gap: 0.2em 1em;
    margin: 0.5em 0 1em;
  }
  dl.meta dt {
    font-weight: 600;
    color: #343a42;
  }
  dl.meta dd {
    margin: 0;
    overflow-wrap: anywhere;
  }
  .filters {
    display: grid;
    grid-template-columns: repeat(auto-fill, minmax(13em, 1fr));
    gap: 0 1em;
  }
  .filters input {
    width: 100%;
  }
  pre {
    white-space: pre-wrap;
    max-width: 40em;
    margin: 0.3em 0;
  }
  ul.perms {
    margin: 0;
    padding-left: 1.1em;
  }
  .sr-only {
    position: absolute;
    width: 1px;
    height: 1px;
    overflow: hidden;
    clip-path: inset(50%);
    white-space: nowrap;
  }
  @media (max-width: 640px) {
    input[type='text'],
    input[type='search'],
    input[type='password'],
    input[type='number'],
    input[type='datetime-local'],
    textarea {
      width: 100%;
    }
    dl.meta {
      grid-template-columns: 1fr;
    }
    dl.meta dd {
      margin-bottom: 0.4em;
    }
    th,
    td {
      padding: 0.35em 0.4em;
    }
  }
`;
