/**
 * Child processes as the tests and the bench run them: the server started the way
 * production starts it, in a process group of its own so a stop reaches its children too.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The repository's root folder. */
export const ROOT = fileURLToPath(new URL('../', import.meta.url));

/** Starts a long-running process in its own process group and waits for a line matching `ready`. */
export function startProcess(
  command: string,
  args: string[],
  env: Record<string, string>,
  ready: RegExp,
  timeoutMs = 90_000,
  cwd = ROOT,
) {
  const child = spawn(command, args, {
    cwd,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let output = '';
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const started = new Promise<RegExpMatchArray>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`not ready after ${timeoutMs} ms:\n${output}`)), timeoutMs);
    const onData = (chunk: Buffer) => {
      output += chunk;
      const match = output.match(ready);
      if (match) {
        clearTimeout(timer);
        resolve(match);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${code} before ready:\n${output}`));
    });
  });
  // Awaiting readiness is optional: a process stopped before its first line (a test that is
  // already done) must not surface as an unhandled rejection. Whoever awaits still sees it.
  started.catch(() => {});
  /** Resolves when the output so far contains `pattern` (polling: output only grows). */
  const waitFor = async (pattern: RegExp, ms = 30_000) => {
    const deadline = Date.now() + ms;
    while (!pattern.test(output)) {
      if (Date.now() > deadline) throw new Error(`no ${pattern} after ${ms} ms:\n${output}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  return {
    child,
    started,
    exited,
    waitFor,
    output: () => output,
    signal: (sig: NodeJS.Signals) => signalGroup(child, sig),
  };
}

export function signalGroup(child: ChildProcess, signal: NodeJS.Signals) {
  if (child.pid) {
    try {
      process.kill(-child.pid, signal);
    } catch {
      // already gone
    }
  }
}

/**
 * Resolves when `${base}/ready` answers 200. Fails at once, with the process's output, if
 * it exits first, and after `timeoutMs` if it never gets there.
 */
export function whenReady(proc: ReturnType<typeof startProcess>, base: string, timeoutMs = 60_000): Promise<string> {
  const polling = (async () => {
    const deadline = Date.now() + timeoutMs;
    while (
      !(await fetch(`${base}/ready`).then(
        (r) => r.ok,
        () => false,
      ))
    ) {
      if (Date.now() > deadline) throw new Error(`${base} not ready after ${timeoutMs} ms; output:\n${proc.output()}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return base;
  })();
  const died = proc.exited.then((code): string => {
    throw new Error(`exited with ${code} before it was ready:\n${proc.output()}`);
  });
  return Promise.race([polling, died]);
}
