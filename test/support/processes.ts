import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ROOT } from '../../scripts/processes.js';

// Shared with the bench, which may not import from test/.
export { ROOT, signalGroup, startProcess, whenReady } from '../../scripts/processes.js';

/** A temp folder the embedded cluster's `postgres` user can enter when tests run as root. */
export async function tempDataDir(prefix: string): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), prefix));
  await fs.chmod(dir, 0o755);
  return dir;
}

export type Run = { code: number | null; stdout: string; stderr: string };

/** Runs a command to completion and collects its output. */
export function runCommand(
  command: string,
  args: string[],
  env: Record<string, string> = {},
  timeoutMs = 60_000,
  cwd = ROOT,
): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/**
 * A port for a process that must be started on a known one (restarted on the same port, or
 * told its port up front): random, and below Linux's ephemeral range (32768–60999), where
 * outgoing connections take their local ports and could hold it at the wrong moment.
 */
export function pickPort(): string {
  return String(20_000 + Math.floor(Math.random() * 12_000));
}
