// Finds where a chunked body ends (RFC 9112 7.1) without changing a byte of it: the fast lane
// relays chunked bodies as they come and only needs to know when the last chunk and the
// trailer section have gone by. Malformed framing is an error, never a guess.

const enum State {
  Size,
  Extension,
  SizeLf,
  Data,
  DataCr,
  DataLf,
  TrailerStart,
  TrailerLine,
  TrailerLf,
  EndLf,
  Done,
}

/** longest chunk-size line (size plus extensions) and trailer line accepted */
const MAX_LINE = 4096;
/** 15 hex digits is 2^60: beyond any body this proxy will carry */
const MAX_SIZE_DIGITS = 15;

function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

export class ChunkedScanner {
  #state = State.Size;
  #size = 0;
  #digits = 0;
  #remaining = 0;
  #lineLength = 0;

  get done(): boolean {
    return this.#state === State.Done;
  }

  /**
   * Scan the next bytes of the body. Returns the number of bytes that belong to the body (less
   * than chunk.length only when the body ends inside the chunk), or -1 when the framing is bad.
   */
  feed(chunk: Uint8Array): number {
    let i = 0;
    const n = chunk.length;
    while (i < n) {
      const c = chunk[i] as number;
      switch (this.#state) {
        case State.Size: {
          const v = hexValue(c);
          if (v >= 0) {
            if (++this.#digits > MAX_SIZE_DIGITS) return -1;
            this.#size = this.#size * 16 + v;
          } else if (this.#digits === 0) return -1;
          else if (c === 13) this.#state = State.SizeLf;
          else if (c === 59 /* ; */ || c === 32 || c === 9) {
            this.#state = State.Extension;
            this.#lineLength = 0;
          } else return -1;
          i++;
          break;
        }
        case State.Extension:
          if (c === 13) this.#state = State.SizeLf;
          else if (c === 10 || ++this.#lineLength > MAX_LINE) return -1;
          i++;
          break;
        case State.SizeLf:
          if (c !== 10) return -1;
          i++;
          if (this.#size === 0) {
            this.#state = State.TrailerStart;
          } else {
            this.#remaining = this.#size;
            this.#state = State.Data;
          }
          this.#size = 0;
          this.#digits = 0;
          break;
        case State.Data: {
          const take = Math.min(this.#remaining, n - i);
          this.#remaining -= take;
          i += take;
          if (this.#remaining === 0) this.#state = State.DataCr;
          break;
        }
        case State.DataCr:
          if (c !== 13) return -1;
          this.#state = State.DataLf;
          i++;
          break;
        case State.DataLf:
          if (c !== 10) return -1;
          this.#state = State.Size;
          i++;
          break;
        case State.TrailerStart:
          if (c === 13) this.#state = State.EndLf;
          else {
            this.#state = State.TrailerLine;
            this.#lineLength = 1;
          }
          i++;
          break;
        case State.TrailerLine:
          if (c === 13) this.#state = State.TrailerLf;
          else if (c === 10 || ++this.#lineLength > MAX_LINE) return -1;
          i++;
          break;
        case State.TrailerLf:
          if (c !== 10) return -1;
          this.#state = State.TrailerStart;
          i++;
          break;
        case State.EndLf:
          if (c !== 10) return -1;
          this.#state = State.Done;
          return i + 1;
        case State.Done:
          return i;
      }
    }
    return n;
  }
}
