/**
 * Paging through a list the management API serves with opaque cursors (the account list, the audit
 * trail): which page is shown, how to go back, and the Pages navigation. A value, replaced on every
 * change, so a Lit `@state` holding it re-renders.
 */
import { html, type TemplateResult } from 'lit';

export interface CursorPages {
  /** The cursors of the pages up to the current one; the first page's is undefined. */
  readonly cursors: ReadonlyArray<string | undefined>;
  /** The next page's cursor, from the last page read; null on the last page. */
  readonly next: string | null;
}

export type PageDirection = 'next' | 'previous';

export const FIRST_PAGE: CursorPages = { cursors: [undefined], next: null };

/** The cursor to read the current page with. */
export function currentCursor(pages: CursorPages): string | undefined {
  return pages.cursors.at(-1);
}

/** After a page was read: where its `next_cursor` leads. */
export function withNext(pages: CursorPages, next: string | null): CursorPages {
  return { cursors: pages.cursors, next };
}

/**
 * One page on or back (unchanged where there is none), or back to the first page (new filters).
 * `next` stays as the last page read left it until the page is read.
 */
export function turnPage(pages: CursorPages, direction: PageDirection | 'first'): CursorPages {
  if (direction === 'first') return { cursors: FIRST_PAGE.cursors, next: pages.next };
  if (direction === 'next' && pages.next)
    return { cursors: [...pages.cursors, pages.next], next: pages.next };
  if (direction === 'previous' && pages.cursors.length > 1) {
    return { cursors: pages.cursors.slice(0, -1), next: pages.next };
  }
  return pages;
}

/** The current page's number, from 1. */
export function pageNumber(pages: CursorPages): number {
  return pages.cursors.length;
}

/** The Pages navigation: back, the page number, on; each button disabled where there is no page. */
export function pageNavigation(
  pages: CursorPages,
  labels: { previous: string; next: string },
  go: (direction: PageDirection) => void,
): TemplateResult {
  return html`<nav class="row" aria-label="Pages">
    <button type="button" ?disabled=${pages.cursors.length <= 1} @click=${() => go('previous')}>
      ${labels.previous}
    </button>
    <span>Page ${pageNumber(pages)}</span>
    <button type="button" ?disabled=${!pages.next} @click=${() => go('next')}>${labels.next}</button>
  </nav>`;
}
