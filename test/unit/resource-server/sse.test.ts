import { describe, expect, it } from 'vitest';
import { SseParser } from '../../../src/resource-server/sse.ts';

describe('SseParser', () => {
  it('parses named events with ids, and skips comments', () => {
    const parser = new SseParser();
    const events = parser.push(
      ': keepalive\n\nevent: snapshot\ndata: {"cursor":"1","entries":[]}\n\nid: 2\nevent: revocation\ndata: {"a":1}\n\n',
    );
    expect(events).toEqual([
      { event: 'snapshot', data: '{"cursor":"1","entries":[]}', lastEventId: '' },
      { event: 'revocation', data: '{"a":1}', lastEventId: '2' },
    ]);
    expect(parser.lastEventId).toBe('2');
  });

  it('reassembles events split across chunks at any point, including CRLF', () => {
    const stream = 'id: 7\r\nevent: revocation\r\ndata: line one\r\ndata: line two\r\n\r\n';
    for (let split = 0; split <= stream.length; split++) {
      const parser = new SseParser();
      const events = [...parser.push(stream.slice(0, split)), ...parser.push(stream.slice(split))];
      expect(events).toEqual([{ event: 'revocation', data: 'line one\nline two', lastEventId: '7' }]);
    }
  });

  it('handles bare CR line ends, a BOM, fields without a value, and retry', () => {
    const parser = new SseParser();
    const events = parser.push('\ufeffretry: 1500\rdata\r\rdata:x\r\r');
    expect(events).toEqual([
      { event: 'message', data: '', lastEventId: '' },
      { event: 'message', data: 'x', lastEventId: '' },
    ]);
    expect(parser.retryMs).toBe(1500);
  });

  it('keeps the last id across events and dispatches nothing without data', () => {
    const parser = new SseParser();
    expect(parser.push('id: 5\n\n')).toEqual([]);
    expect(parser.push('event: revocation\ndata: {}\n\n')).toEqual([
      { event: 'revocation', data: '{}', lastEventId: '5' },
    ]);
  });
});
