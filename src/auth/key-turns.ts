import type { ServerResponse } from 'node:http';
import type { Crowding } from './crowding.js';

export type KeyTurnsOptions = {
  /** A key's requests answered at once while the loop is congested and other keys are served too; 0 turns the door's turns off. */
  shared: number;
  /** A key's requests answered at once otherwise (the loop has room, or the key is alone). */
  alone: number;
  /** Requests of one key that may wait their turn; past that they are refused. */
  waiting: number;
  /** Whether the process is crowded for a key (auth/crowding.ts), which the door tells of each request; turns are shared only while it is. */
  crowding: Crowding;
};

/**
 * Each key's turns at this process's event loop, taken at the door. Node runs whatever is
 * ready first come, first served: a key with twelve requests in flight gets twelve turns for
 * each one of a key with one, and a burst of its requests is a queue everyone else waits
 * behind. So while the loop is congested and other keys are being served, each key's
 * requests are answered `shared` at a time, from arrival (before the body is read) until
 * their answer's headers are written; the rest wait in the key's own line, unread, and no
 * other key waits in it. Otherwise a key may have `alone` at once: while the loop has room,
 * or nobody else is there, sharing would only make a client's parallel requests wait for
 * each other.
 */
export function createKeyTurns(options: KeyTurnsOptions, waitingGauge?: { inc(): void; dec(): void }) {
  type Waiting = { start: () => void; res: ServerResponse };
  const keys = new Map<string, { running: number; queue: Waiting[] }>();
  const turnsOf = (keyId: string) =>
    options.crowding.crowded(keyId) ? options.shared : Math.max(options.shared, options.alone);

  /** Starts what waits in the key's line while it has turns free. */
  const pump = (keyId: string) => {
    const key = keys.get(keyId);
    if (!key) return;
    while (key.queue.length > 0 && key.running < turnsOf(keyId)) {
      const next = key.queue.shift() as Waiting;
      waitingGauge?.dec();
      // A pipelined request whose connection has closed never hears 'close' (its answer was
      // never given the socket): nothing of it runs.
      if (next.res.req?.socket?.destroyed) continue;
      key.running++;
      next.start();
    }
    if (key.running === 0 && key.queue.length === 0) keys.delete(keyId);
  };

  // A key's turns grow when the loop is relieved or the other keys leave, while its line
  // waits for one of its running requests to end: every 100 ms, while any line waits, each
  // is looked at again.
  let lookAgain: NodeJS.Timeout | undefined;
  const watchLines = () => {
    lookAgain ??= setInterval(() => {
      let waiting = false;
      for (const [keyId, key] of keys) {
        if (key.queue.length === 0) continue;
        pump(keyId);
        waiting ||= key.queue.length > 0;
      }
      if (!waiting) {
        clearInterval(lookAgain);
        lookAgain = undefined;
      }
    }, 100);
    lookAgain.unref();
  };

  /** Held from its start until the answer's headers are written or the connection closes. */
  const hold = (keyId: string, res: ServerResponse) => {
    const writeHead = res.writeHead;
    let held = true;
    const done = () => {
      if (!held) return;
      held = false;
      res.writeHead = writeHead;
      const key = keys.get(keyId);
      if (key) key.running--;
      pump(keyId);
    };
    // An answer's headers go out once it is decided (a JSON body follows at once; a stream
    // starts): its work is done, and an open stream does not keep a turn.
    res.writeHead = function (this: ServerResponse, ...args: unknown[]) {
      done();
      return (writeHead as (...a: unknown[]) => ServerResponse).apply(this, args);
    } as ServerResponse['writeHead'];
    res.once('close', done);
  };

  return {
    /**
     * Runs `start` in the key's turn: now, or once earlier requests of the key are answered;
     * false (and `start` never runs) when its line is full.
     */
    admit(keyId: string, res: ServerResponse, start: () => void): boolean {
      if (options.shared <= 0) {
        start();
        return true;
      }
      let key = keys.get(keyId);
      if (!key) {
        key = { running: 0, queue: [] };
        keys.set(keyId, key);
      }
      if (key.queue.length >= options.waiting && key.running >= turnsOf(keyId)) return false;
      const line = key.queue;
      const waiting: Waiting = {
        start: () => {
          res.off('close', leave);
          hold(keyId, res);
          start();
        },
        res,
      };
      // A caller that gives up while it waits leaves the line: nothing of it runs.
      const leave = () => {
        const at = line.indexOf(waiting);
        if (at !== -1) {
          line.splice(at, 1);
          waitingGauge?.dec();
        }
        pump(keyId);
      };
      res.once('close', leave);
      line.push(waiting);
      waitingGauge?.inc();
      pump(keyId);
      if (line.length > 0) watchLines();
      return true;
    },
    /** Requests answered and waiting now, over every key. */
    counts() {
      let running = 0;
      let waiting = 0;
      for (const key of keys.values()) {
        running += key.running;
        waiting += key.queue.length;
      }
      return { running, waiting };
    },
  };
}
