/**
 * The bench runs the server the way production does, as its own `node dist/main.js`
 * process, and each baseline in a process of its own, so load generators and receivers
 * in the bench process never share an event loop with what they measure.
 */
import fs from 'node:fs/promises';
import { createServer } from 'node:net';
import { ROOT, signalGroup, startProcess, whenReady } from '../scripts/processes.js';

export type Child = {
  url: string;
  /** Peak resident memory of the process so far, in MB (the kernel's high-water mark). */
  peakRssMb(): Promise<number>;
  rssMb(): Promise<number>;
  /** CPU time the process has used so far (user + system), in ms. */
  cpuMs(): Promise<number>;
  /** The same, with the processes it has forked and that still run (API_PROCESSES' API processes). */
  treeCpuMs(): Promise<number>;
  stop(): Promise<void>;
};

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function statusMb(pid: number, field: 'VmRSS' | 'VmHWM'): Promise<number> {
  const status = await fs.readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  const kb = Number(status.match(new RegExp(`${field}:\\s+(\\d+) kB`))?.[1] ?? 0);
  return Math.round((kb * 1024) / 1e6);
}

/** The fields of /proc/<pid>/stat after the command name (state is [0], ppid [1]); none once it is gone. */
export async function procStat(pid: number): Promise<number[]> {
  const stat = await fs.readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  return stat
    ? stat
        .slice(stat.lastIndexOf(')') + 2)
        .split(' ')
        .map(Number)
    : [];
}

/**
 * CPU a process has used so far (utime + stime; with `withReapedChildren` also cutime +
 * cstime, its children that have exited), in ms; 0 once it is gone.
 */
export async function processCpuMs(pid: number, withReapedChildren = false): Promise<number> {
  // utime, stime, cutime and cstime are the 12th to 15th fields, in clock ticks (1/100 s).
  const [utime = 0, stime = 0, cutime = 0, cstime = 0] = (await procStat(pid)).slice(11, 15);
  return (utime + stime + (withReapedChildren ? cutime + cstime : 0)) * 10;
}

let peakOfAllServers = { mb: 0, role: '', scenario: '' };
let currentScenario = '';
/** Names the scenario running now, so the run's memory peak can say where it was reached. */
export const enterScenario = (name: string) => {
  currentScenario = name;
};
/** Each scenario's highest server resident memory, printed beside its seconds. */
export const scenarioPeakRssMb: Record<string, number> = {};
/** The highest resident memory any server process reached during the run, that process's role and scenario. */
export const serverPeakRssMb = () => peakOfAllServers;

function wrap(proc: ReturnType<typeof startProcess>, url: string, isServer: boolean, role = ''): Child {
  const pid = proc.child.pid as number;
  const peakRssMb = () => statusMb(pid, 'VmHWM');
  return {
    url,
    peakRssMb,
    rssMb: () => statusMb(pid, 'VmRSS'),
    cpuMs: () => processCpuMs(pid),
    async treeCpuMs() {
      const children = await fs.readFile(`/proc/${pid}/task/${pid}/children`, 'utf8').catch(() => '');
      const pids = [pid, ...children.split(' ').filter(Boolean).map(Number)];
      const each = await Promise.all(pids.map((one) => processCpuMs(one)));
      return each.reduce((sum, ms) => sum + ms, 0);
    },
    async stop() {
      const peak = isServer ? await peakRssMb() : 0;
      scenarioPeakRssMb[currentScenario] = Math.max(scenarioPeakRssMb[currentScenario] ?? 0, peak);
      if (peak > peakOfAllServers.mb) peakOfAllServers = { mb: peak, role, scenario: currentScenario };
      signalGroup(proc.child, 'SIGTERM');
      const code = await proc.exited;
      if (code !== 0) throw new Error(`${url} exited with ${code}:\n${proc.output().slice(-2000)}`);
    },
  };
}

/**
 * The heap limit README's "Running in production" gives a 512 MB container. Without one V8
 * sizes its heap from this machine's 24 GiB and lets garbage reach 280–320 MB before a full
 * collection (publishEvents batches, 32 connections), with about 50 MB of it live.
 * BENCH_HEAP_LIMIT_MB sets another (0: none).
 */
const HEAP_LIMIT_MB = Number(process.env.BENCH_HEAP_LIMIT_MB ?? 256);

/**
 * `node --max-old-space-size=256 dist/main.js` with the given role, quiet logs, on 127.0.0.1.
 * Resolves once it is ready. `dist`: another build of the server to run instead (an A/B of
 * two builds in one run).
 */
export async function startServer(env: Record<string, string>, dist = 'dist'): Promise<Child> {
  const port = await freePort();
  // BENCH_CPU_PROF=dir: every server process writes a .cpuprofile there when it stops.
  const profile = process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : [];
  const proc = startProcess(
    process.execPath,
    [...profile, ...(HEAP_LIMIT_MB > 0 ? [`--max-old-space-size=${HEAP_LIMIT_MB}`] : []), `${dist}/main.js`],
    { NODE_ENV: 'production', HOST: '127.0.0.1', PORT: String(port), LOG_LEVEL: 'warn', ...env },
    /$^/, // readiness is polled below
  );
  proc.started.catch(() => {}); // never matches; exits are reported by stop()
  return wrap(proc, await whenReady(proc, `http://127.0.0.1:${port}`), true, env.ROLE ?? 'all');
}

/** A baseline under bench/baselines, run with tsx; it prints `ready` when it is. */
export async function startBaseline(file: string, env: Record<string, string>): Promise<Child> {
  const port = await freePort();
  // BENCH_CPU_PROF=dir: baselines write their profiles there too, to set beside ours.
  const profile = process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : [];
  const proc = startProcess(
    process.execPath,
    [...profile, '--import', 'tsx', `${ROOT}bench/baselines/${file}`],
    { PORT: String(port), ...env },
    /^ready$/m,
  );
  await proc.started;
  return wrap(proc, `http://127.0.0.1:${port}`, false);
}
