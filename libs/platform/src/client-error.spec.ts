import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import { clientErrorResponse, handleClientError } from './client-error';

class FakeSocket extends EventEmitter {
  writable = true;
  written: string | undefined;
  destroyed = false;
  _httpMessage: (EventEmitter & { _headerSent?: boolean; writableFinished?: boolean; req?: { complete?: boolean } }) | null = null;
  end(data: string): void {
    this.written = data;
  }
  destroy(): void {
    this.destroyed = true;
  }
}

const err = (code: string): NodeJS.ErrnoException => Object.assign(new Error(code), { code });
const handle = (e: NodeJS.ErrnoException, s: FakeSocket): void => handleClientError(e, s as unknown as Duplex);

describe('clientError: the JSON error shape for what Node refuses before Express (issue 8 item 4)', () => {
  it.each([
    ['HPE_HEADER_OVERFLOW', 431, 'Request Header Fields Too Large'],
    ['ERR_HTTP_REQUEST_TIMEOUT', 408, 'Request Timeout'],
    ['HPE_CHUNK_EXTENSIONS_OVERFLOW', 413, 'Payload Too Large'],
    ['HPE_INVALID_METHOD', 400, 'Bad Request'],
    ['HPE_SOMETHING_NEW', 400, 'Bad Request'],
  ])('%s is a complete %i response: JSON, no-store, Connection: close', (code, status, reason) => {
    const { raw } = clientErrorResponse(code);
    const [head, body] = raw.split('\r\n\r\n');
    expect(head.split('\r\n')[0]).toBe(`HTTP/1.1 ${status} ${reason}`);
    expect(head).toContain('\r\nContent-Type: application/json; charset=utf-8');
    expect(head).toContain('\r\nCache-Control: no-store');
    expect(head).toContain('\r\nConnection: close');
    expect(head).toContain(`\r\nContent-Length: ${Buffer.byteLength(body)}`);
    expect(JSON.parse(body)).toEqual({ error: 'invalid_request', error_description: expect.any(String) });
  });

  it('writes nothing when it would corrupt a response already on the wire, or cannot be written', () => {
    const midResponse = new FakeSocket();
    midResponse._httpMessage = Object.assign(new EventEmitter(), { _headerSent: true, writableFinished: false });
    handle(err('HPE_INVALID_CHUNK_SIZE'), midResponse);
    expect({ written: midResponse.written, destroyed: midResponse.destroyed }).toEqual({ written: undefined, destroyed: true });
    const gone = new FakeSocket();
    gone.writable = false;
    handle(err('HPE_INVALID_METHOD'), gone);
    expect({ written: gone.written, destroyed: gone.destroyed }).toEqual({ written: undefined, destroyed: true });
    const reset = new FakeSocket();
    handle(err('ECONNRESET'), reset);
    expect(reset.written).toBeUndefined();
  });

  it('after a complete pipelined request still being answered, the error waits for that answer', () => {
    const s = new FakeSocket();
    const inFlight = Object.assign(new EventEmitter(), { _headerSent: false, writableFinished: false, req: { complete: true } });
    s._httpMessage = inFlight;
    handle(err('HPE_INVALID_METHOD'), s);
    expect(s.written).toBeUndefined();
    inFlight.emit('finish');
    expect(s.written).toMatch(/^HTTP\/1\.1 400 /);
    s.emit('close');
  });
});
