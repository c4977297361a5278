/**
 * An incremental parser of the `text/event-stream` format (WHATWG HTML, "Server-sent events"): feed it
 * decoded text as it arrives, get back the events it completes. Comments (`: keepalive`) produce no
 * event but count as liveness for the caller, who sees every chunk anyway.
 */

export interface ServerSentEvent {
  /** `message` when the stream named none. */
  event: string;
  data: string;
  /** The last event id in effect when this event was dispatched (ids persist across events). */
  lastEventId: string;
}

export class SseParser {
  #buffer = '';
  #event = '';
  #data: string[] = [];
  #hasData = false;
  #lastEventId = '';
  #retryMs: number | null = null;
  #first = true;
  #pendingCr = false;

  get lastEventId(): string {
    return this.#lastEventId;
  }

  /** The reconnection delay the server asked for with `retry:`, if any. */
  get retryMs(): number | null {
    return this.#retryMs;
  }

  push(chunk: string): ServerSentEvent[] {
    let text = chunk;
    if (this.#first && text.length > 0) {
      this.#first = false;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    // A CR ending the previous chunk and an LF starting this one are a single line break.
    if (this.#pendingCr && text.startsWith('\n')) text = text.slice(1);
    this.#pendingCr = false;
    this.#buffer += text;
    const events: ServerSentEvent[] = [];
    let start = 0;
    for (let i = 0; i < this.#buffer.length; i++) {
      const c = this.#buffer.charCodeAt(i);
      if (c !== 0x0a && c !== 0x0d) continue;
      const line = this.#buffer.slice(start, i);
      if (c === 0x0d) {
        if (i + 1 < this.#buffer.length) {
          if (this.#buffer.charCodeAt(i + 1) === 0x0a) i++;
        } else {
          this.#pendingCr = true;
        }
      }
      start = i + 1;
      const event = this.#line(line);
      if (event) events.push(event);
    }
    this.#buffer = this.#buffer.slice(start);
    return events;
  }

  #line(line: string): ServerSentEvent | null {
    if (line === '') return this.#dispatch();
    if (line.startsWith(':')) return null;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    switch (field) {
      case 'event':
        this.#event = value;
        break;
      case 'data':
        this.#data.push(value);
        this.#hasData = true;
        break;
      case 'id':
        if (!value.includes('\0')) this.#lastEventId = value;
        break;
      case 'retry':
        if (/^\d+$/.test(value)) this.#retryMs = Number(value);
        break;
    }
    return null;
  }

  #dispatch(): ServerSentEvent | null {
    const event = this.#hasData
      ? { event: this.#event || 'message', data: this.#data.join('\n'), lastEventId: this.#lastEventId }
      : null;
    this.#event = '';
    this.#data = [];
    this.#hasData = false;
    return event;
  }
}
