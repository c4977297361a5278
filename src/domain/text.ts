/**
 * What text svcauth stores. Postgres cannot store a NUL character in text or jsonb (the insert fails,
 * which used to surface as a 500 or, at /token, as "cannot reach its database"), and control characters
 * in names only ever serve to spoof what an admin reads in a listing or a log. So every free-text field
 * is refused at the boundary when it holds one: single-line text admits no control character at all,
 * multi-line text (descriptions) admits tab, line feed and carriage return.
 */

// eslint-disable-next-line no-control-regex
const ANY_CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
// eslint-disable-next-line no-control-regex
const CONTROL_BUT_LAYOUT = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/;

export const SINGLE_LINE_TEXT_MESSAGE = 'must not contain NUL or other control characters';
export const MULTI_LINE_TEXT_MESSAGE =
  'must not contain NUL or control characters other than tab and line breaks';

export function isSingleLineText(value: string): boolean {
  return !ANY_CONTROL.test(value);
}

export function isMultiLineText(value: string): boolean {
  return !CONTROL_BUT_LAYOUT.test(value);
}

const ECHO_MAX_CHARS = 64;

/**
 * A caller's value as an error message may repeat it: at most a few dozen characters, so a refusal
 * never grows with its input (nor reflects a page of attacker-chosen text back to a browser).
 */
export function echo(value: string, maxChars = ECHO_MAX_CHARS): string {
  return value.length <= maxChars ? value : `${value.slice(0, maxChars)}… (${value.length} characters)`;
}
