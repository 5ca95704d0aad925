/**
 * CPU and memory of a running shadow over a measured window: the container's cgroup counters.
 *
 * Two sources, the first that works:
 * - **cgroup files** (Docker on this host — a CI runner, this machine): the cumulative CPU counter
 *   (`cpuacct.usage` on cgroup v1, `cpu.stat` usage_usec on v2) and memory read straight from
 *   /sys/fs/cgroup, located through /proc/<pid>/cgroup. A reading takes well under a millisecond,
 *   so the window is exactly sampleResources() → stop(); memory is polled every 250 ms.
 * - **Docker stats API** (remote engine, no access to the host's cgroup fs): a one-shot reading at
 *   both ends plus the once-a-second stats stream for memory. Each reading carries the daemon's
 *   time, so CPU % is exact for the interval between the readings — but the engine answers a stats
 *   request at its collector's next round (up to 1 s late whenever any stats stream is open), so
 *   that interval can start and end up to a second after the calls. Prefer long windows there.
 *
 * CPU-seconds = Δ cumulative CPU ns / 1e9; CPU % of one core = CPU-seconds / elapsed × 100.
 * Spread (cpuPercentSd) = sample standard deviation of the CPU % of consecutive sub-intervals:
 * ~250 ms (the polling interval) from the cgroup files, ~1 s (the stream's) from the stats API.
 * Memory = working set = usage − inactive file cache (cgroup v1 total_inactive_file, v2
 * inactive_file), peak over the readings: a peak shorter than the polling interval can be missed.
 */
import { promises as fs } from "node:fs";
import type { ResourceSampler, ResourceUsage } from "../core/ports.js";
import { stdev } from "../core/stats.js";
import type { Dockerode } from "./docker.js";

/** ResourceUsage plus where it came from and the window it covers. */
export interface SampledUsage extends ResourceUsage {
  source: "cgroup" | "docker-api";
  /** seconds between the first and the last reading */
  windowS: number;
}

/** A ResourceSampler whose stop() tells the source and window too. */
export interface ShadowSampler extends ResourceSampler {
  stop(): Promise<SampledUsage>;
}

/** The fields of a Docker stats document that we use. */
export interface StatsReading {
  read?: string;
  cpu_stats?: { cpu_usage?: { total_usage?: number } };
  memory_stats?: { usage?: number; stats?: Record<string, number | undefined> };
}

export interface Reading {
  /** daemon time of the reading, ms since the epoch (local clock when absent) */
  atMs: number;
  /** cumulative CPU time, ns */
  cpuNs: number;
  /** working-set bytes */
  memoryBytes: number;
}

/** Map a stats document to a reading; undefined when it carries no counters (e.g. stopped). */
export function toReading(stats: StatsReading): Reading | undefined {
  const cpuNs = stats.cpu_stats?.cpu_usage?.total_usage;
  const usage = stats.memory_stats?.usage;
  if (typeof cpuNs !== "number" || typeof usage !== "number" || (cpuNs === 0 && usage === 0)) return undefined;
  const memStats = stats.memory_stats?.stats ?? {};
  // cgroup v1 reports total_inactive_file; v2 (GitHub runners) inactive_file.
  const inactive = memStats.total_inactive_file ?? memStats.inactive_file ?? 0;
  const parsed = stats.read ? Date.parse(stats.read) : NaN;
  const atMs = Number.isFinite(parsed) && parsed > 0 ? parsed + subMillisecond(stats.read as string) : Date.now();
  return { atMs, cpuNs, memoryBytes: Math.max(0, usage - inactive) };
}

/** Date.parse drops the digits below the millisecond of an RFC 3339 nano timestamp. */
function subMillisecond(iso: string): number {
  const match = /\.(\d+)/.exec(iso);
  if (!match?.[1] || match[1].length <= 3) return 0;
  return Number(`0.${match[1].slice(3)}`);
}

const cpuPercentBetween = (a: Reading, b: Reading): number => ((b.cpuNs - a.cpuNs) / 1e6 / (b.atMs - a.atMs)) * 100;

/**
 * CPU % of each sub-interval between readings in time order: consecutive readings are merged
 * until an interval spans at least `minIntervalMs` (timer jitter, duplicate readings), and a
 * shorter remainder at the end joins the last interval. Empty for fewer than two readings.
 */
export function cpuPercents(readings: Reading[], minIntervalMs: number): number[] {
  const bounds: Reading[] = [];
  for (const reading of readings) {
    const start = bounds[bounds.length - 1];
    if (!start || reading.atMs - start.atMs >= minIntervalMs) bounds.push(reading);
  }
  const last = readings[readings.length - 1];
  if (last && bounds.length > 0 && bounds[bounds.length - 1] !== last) {
    // the remainder is shorter than minIntervalMs: extend the last interval to the last reading
    if (bounds.length >= 2) bounds[bounds.length - 1] = last;
    else if (last.atMs > (bounds[0] as Reading).atMs) bounds.push(last);
  }
  const percents: number[] = [];
  for (let i = 1; i < bounds.length; i++) percents.push(cpuPercentBetween(bounds[i - 1] as Reading, bounds[i] as Reading));
  return percents.filter(Number.isFinite);
}

/**
 * Summarise readings in time order: CPU between first and last, its spread over sub-intervals of
 * at least `spreadMinIntervalMs` (0 for fewer than two), memory peak over all.
 */
export function summarise(readings: Reading[], spreadMinIntervalMs = 200): ResourceUsage & { windowS: number } {
  const first = readings[0];
  const last = readings[readings.length - 1];
  if (!first || !last) return { cpuPercent: 0, cpuSeconds: 0, memoryPeakMiB: 0, cpuPercentSd: 0, samples: 0, windowS: 0 };
  const cpuSeconds = Math.max(0, (last.cpuNs - first.cpuNs) / 1e9);
  const elapsedS = (last.atMs - first.atMs) / 1000;
  const peak = readings.reduce((max, r) => Math.max(max, r.memoryBytes), 0);
  return {
    cpuPercent: elapsedS > 0 ? (cpuSeconds / elapsedS) * 100 : 0,
    cpuSeconds,
    memoryPeakMiB: peak / 2 ** 20,
    cpuPercentSd: stdev(cpuPercents(readings, spreadMinIntervalMs)),
    samples: readings.length,
    windowS: elapsedS,
  };
}

/** Reads one container's cgroup counters from the host's /sys/fs/cgroup. */
export class CgroupCounters {
  private constructor(
    private readonly cpuFile: string,
    private readonly cpuKind: "v1" | "v2",
    private readonly memoryUsageFile: string,
    private readonly memoryStatFile: string,
  ) {}

  /**
   * Locate the cgroup of the process `pid` (the container's init, from inspect State.Pid).
   * Undefined when the files are not reachable (remote engine, other namespaces, permissions).
   */
  static async locate(pid: number, root = "/sys/fs/cgroup"): Promise<CgroupCounters | undefined> {
    if (!(pid > 0)) return undefined;
    let table: string;
    try {
      table = await fs.readFile(`/proc/${pid}/cgroup`, "utf8");
    } catch {
      return undefined;
    }
    const paths = new Map<string, string>();
    let unified: string | undefined;
    for (const line of table.split("\n")) {
      const match = /^(\d+):([^:]*):(.*)$/.exec(line.trim());
      if (!match) continue;
      const [, id, controllers = "", cgPath = "/"] = match;
      if (id === "0" && controllers === "") unified = cgPath;
      for (const controller of controllers.split(",")) paths.set(controller, cgPath);
    }
    const readable = async (file: string): Promise<boolean> =>
      fs.readFile(file, "utf8").then(
        () => true,
        () => false,
      );
    const cpuacct = paths.get("cpuacct");
    const memory = paths.get("memory");
    if (cpuacct !== undefined && memory !== undefined) {
      for (const mount of ["cpuacct", "cpu,cpuacct", "cpuacct,cpu"]) {
        const cpuFile = `${root}/${mount}${cpuacct}/cpuacct.usage`;
        const usage = `${root}/memory${memory}/memory.usage_in_bytes`;
        const stat = `${root}/memory${memory}/memory.stat`;
        if ((await readable(cpuFile)) && (await readable(usage)) && (await readable(stat))) {
          return new CgroupCounters(cpuFile, "v1", usage, stat);
        }
      }
    }
    if (unified !== undefined) {
      const dir = `${root}${unified === "/" ? "" : unified}`;
      const cpuFile = `${dir}/cpu.stat`;
      if ((await readable(cpuFile)) && (await readable(`${dir}/memory.current`)) && (await readable(`${dir}/memory.stat`))) {
        return new CgroupCounters(cpuFile, "v2", `${dir}/memory.current`, `${dir}/memory.stat`);
      }
    }
    return undefined;
  }

  /** One reading (local clock); undefined once the cgroup is gone (container stopped). */
  async read(): Promise<Reading | undefined> {
    try {
      const atMs = performance.timeOrigin + performance.now();
      const [cpuText, usageText, statText] = await Promise.all([
        fs.readFile(this.cpuFile, "utf8"),
        fs.readFile(this.memoryUsageFile, "utf8"),
        fs.readFile(this.memoryStatFile, "utf8"),
      ]);
      const cpuNs =
        this.cpuKind === "v1" ? Number(cpuText.trim()) : Number(/^usage_usec (\d+)/m.exec(cpuText)?.[1] ?? NaN) * 1000;
      const usage = Number(usageText.trim());
      const inactiveKey = this.cpuKind === "v1" ? "total_inactive_file" : "inactive_file";
      const inactive = Number(new RegExp(`^${inactiveKey} (\\d+)`, "m").exec(statText)?.[1] ?? 0);
      if (!Number.isFinite(cpuNs) || !Number.isFinite(usage)) return undefined;
      return { atMs, cpuNs, memoryBytes: Math.max(0, usage - inactive) };
    } catch {
      return undefined;
    }
  }
}

/**
 * Samples from the cgroup files: a reading now, memory every `pollMs`, a reading at stop().
 */
export class CgroupSampler implements ShadowSampler {
  private readonly readings: Promise<Reading | undefined>[] = [];
  private readonly spreadMinIntervalMs: number;
  private readonly timer: NodeJS.Timeout;
  private stopping: Promise<SampledUsage> | undefined;

  constructor(
    private readonly counters: CgroupCounters,
    private readonly name: string,
    pollMs = 250,
  ) {
    // sub-intervals of about one polling period (a late tick must not split one in two)
    this.spreadMinIntervalMs = pollMs * 0.8;
    this.readings.push(counters.read());
    this.timer = setInterval(() => this.readings.push(counters.read()), pollMs);
    this.timer.unref();
  }

  stop(): Promise<SampledUsage> {
    this.stopping ??= (async () => {
      clearInterval(this.timer);
      this.readings.push(this.counters.read());
      const readings = (await Promise.all(this.readings)).filter((r): r is Reading => r !== undefined);
      if (readings.length === 0) throw new Error(`shadow ${this.name}: no cgroup readings (container gone?)`);
      readings.sort((a, b) => a.atMs - b.atMs);
      return { ...summarise(readings, this.spreadMinIntervalMs), source: "cgroup" as const };
    })();
    return this.stopping;
  }
}

/**
 * Samples through the Docker stats API: a one-shot reading now, the 1 s stats stream meanwhile,
 * a one-shot reading at stop(). See the header for the timing caveat.
 */
export class DockerStatsSampler implements ShadowSampler {
  private readonly streamed: Reading[] = [];
  private readonly first: Promise<Reading | undefined>;
  private stream: NodeJS.ReadableStream | undefined;
  private stopping: Promise<SampledUsage> | undefined;
  private closed = false;

  constructor(
    private readonly docker: Dockerode,
    private readonly containerId: string,
    private readonly name: string,
  ) {
    this.first = this.oneShot();
    void this.openStream();
  }

  private async oneShot(): Promise<Reading | undefined> {
    try {
      const stats = (await this.docker
        .getContainer(this.containerId)
        .stats({ stream: false, "one-shot": true })) as unknown as StatsReading;
      return toReading(stats);
    } catch {
      return undefined;
    }
  }

  private async openStream(): Promise<void> {
    try {
      const stream = await this.docker.getContainer(this.containerId).stats({ stream: true });
      if (this.closed) {
        destroy(stream);
        return;
      }
      this.stream = stream;
      let buffered = "";
      stream.on("data", (chunk: Buffer | string) => {
        buffered += chunk.toString();
        let newline: number;
        while ((newline = buffered.indexOf("\n")) >= 0) {
          const line = buffered.slice(0, newline).trim();
          buffered = buffered.slice(newline + 1);
          if (!line) continue;
          try {
            const reading = toReading(JSON.parse(line) as StatsReading);
            if (reading) this.streamed.push(reading);
          } catch {
            // a partial or foreign line: skip it
          }
        }
      });
      stream.on("error", () => undefined);
    } catch {
      // the one-shot readings at both ends still give CPU and memory
    }
  }

  stop(): Promise<SampledUsage> {
    this.stopping ??= (async () => {
      const first = await this.first;
      const last = await this.oneShot();
      this.closed = true;
      if (this.stream) destroy(this.stream);
      const readings = [first, ...this.streamed, last].filter((r): r is Reading => r !== undefined);
      readings.sort((a, b) => a.atMs - b.atMs);
      if (readings.length === 0) {
        throw new Error(`shadow ${this.name}: no stats readings from container ${this.containerId.slice(0, 12)}`);
      }
      // the stream reads once a second: spread over ~1 s sub-intervals
      return { ...summarise(readings, 500), source: "docker-api" as const };
    })();
    return this.stopping;
  }
}

function destroy(stream: NodeJS.ReadableStream): void {
  const s = stream as NodeJS.ReadableStream & { destroy?: () => void };
  if (typeof s.destroy === "function") s.destroy();
  else s.removeAllListeners();
}
