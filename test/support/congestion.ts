/**
 * Keeps this process's event loop busy in `pieceMs` pieces, yielding between them, until
 * stopped: every callback waits behind a piece, as on a server a flood keeps busy.
 * `stop()` resolves once the last piece has ended.
 */
export function congestLoop(pieceMs = 40): { stop: () => Promise<void> } {
  let congesting = true;
  const running = (async () => {
    while (congesting) {
      const pieceEnds = performance.now() + pieceMs;
      while (performance.now() < pieceEnds) {
        // busy: every timer and callback waits
      }
      await new Promise((resolve) => setImmediate(resolve));
    }
  })();
  return {
    stop: () => {
      congesting = false;
      return running;
    },
  };
}
