/**
 * The Testcontainers shadow runtime against the real Docker engine: images, limits, readiness,
 * failure clean-up, signals, resource sampling. Nothing may be left behind: after every test no
 * container labelled with this file's run id exists.
 */
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { ShadowSpec } from "../../src/core/ports.js";
import { AutocannonDriver } from "../../src/load/autocannon-driver.js";
import { dockerfileBaseImages } from "../../src/shadows/image-build.js";
import {
  TestcontainersRuntime,
  installSignalCleanup,
  assertDockerAvailable,
  dockerAvailable,
  findFreePort,
  removeAllShadowgateContainers,
  type TestcontainersShadow,
} from "../../src/shadows/testcontainers-runtime.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const tinyContext = path.join(root, "fixtures/tiny");
const runId = `it-shadows-${process.pid}-${Date.now().toString(36)}`;
const runtime = new TestcontainersRuntime({ runId });
let image = "";

/** Images (any, also intermediate) labelled with a run id, straight from the docker CLI. */
function labelledImages(id: string): string[] {
  return execFileSync("docker", ["images", "-a", "-q", "--filter", `label=shadowgate=${id}`], { encoding: "utf8" })
    .split("\n")
    .filter(Boolean);
}

function allImageIds(): string[] {
  return execFileSync("docker", ["images", "-a", "-q", "--no-trunc"], { encoding: "utf8" }).split("\n").filter(Boolean);
}

/** The command that committed an image (legacy builder layers), "" when it is gone. */
function imageCmd(id: string): string {
  try {
    return execFileSync("docker", ["image", "inspect", "--format", "{{ json .ContainerConfig.Cmd }}", id], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
  } catch {
    return "";
  }
}

function imageExists(ref: string): boolean {
  try {
    execFileSync("docker", ["image", "inspect", ref], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** Containers of this run in any state, straight from the docker CLI. */
function labelled(id = runId): string[] {
  return execFileSync("docker", ["ps", "-a", "-q", "--filter", `label=shadowgate=${id}`], { encoding: "utf8" })
    .split("\n")
    .filter(Boolean);
}

async function spec({ env, ...overrides }: Partial<ShadowSpec> & { name: string }): Promise<ShadowSpec> {
  const port = overrides.port ?? (await findFreePort());
  return {
    image,
    port,
    cpus: 0.5,
    memoryMiB: 256,
    readyPath: "/healthz",
    readyTimeoutMs: 15_000,
    config: { case: overrides.name },
    ...overrides,
    env: { PORT: String(port), ...(env ?? {}) },
  };
}

async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url);
  expect(res.status).toBe(200);
  return (await res.json()) as T;
}

beforeAll(async () => {
  await assertDockerAvailable();
  image = await runtime.prepareImage({ kind: "build", context: tinyContext, dockerfile: "Dockerfile" });
});

afterEach(async () => {
  const left = labelled();
  await runtime.cleanup(); // safety net for the next test; the assertion is on what the test left
  expect(left, "containers left behind by the test").toEqual([]);
});

afterAll(async () => {
  await runtime.cleanup();
  await runtime.removeImages();
});

describe("docker engine check", () => {
  it("reports an engine that answers, and a one-line error naming the socket when none does", async () => {
    expect(await dockerAvailable()).toMatchObject({ ok: true });
    const saved = process.env.DOCKER_HOST;
    process.env.DOCKER_HOST = "unix:///tmp/shadowgate-no-such.sock";
    try {
      await expect(assertDockerAvailable()).rejects.toThrow(
        /^no Docker engine answers at unix:\/\/\/tmp\/shadowgate-no-such\.sock: .*ENOENT.*; run scripts\/ensure-docker\.sh$/,
      );
    } finally {
      if (saved === undefined) delete process.env.DOCKER_HOST;
      else process.env.DOCKER_HOST = saved;
    }
  });
});

describe("prepareImage", () => {
  it("builds a Dockerfile into a run-labelled tag, and accepts an existing image", async () => {
    expect(image).toBe(`shadowgate/tiny:${runId.toLowerCase()}`);
    const labels = execFileSync("docker", ["image", "inspect", "--format", "{{ index .Config.Labels \"shadowgate\" }}", image], { encoding: "utf8" });
    expect(labels.trim()).toBe(runId);
    expect(await runtime.prepareImage({ kind: "image", image })).toBe(image);
  });

  it("removeImages removes every image labelled with the run, also one no longer under the tag it built", async () => {
    const ownRunId = `${runId}-images`;
    const own = new TestcontainersRuntime({ runId: ownRunId });
    const alias = `shadowgate-test/alias:${ownRunId.toLowerCase()}`;
    try {
      const built = await own.prepareImage({ kind: "build", context: tinyContext, dockerfile: "Dockerfile" });
      // the image now answers only to a name the runtime never built (as after an aborted build
      // whose tag went first): only its label ties it to the run
      execFileSync("docker", ["image", "tag", built, alias]);
      execFileSync("docker", ["image", "rm", built]);
      expect(labelledImages(ownRunId).length).toBeGreaterThanOrEqual(1);
      expect(await own.removeImages()).toBeGreaterThanOrEqual(1);
      expect(labelledImages(ownRunId)).toEqual([]);
      expect(imageExists(alias)).toBe(false);
    } finally {
      spawnSync("docker", ["image", "rm", "-f", alias]);
      await own.removeImages();
    }
  });

  it("names a missing image", async () => {
    await expect(runtime.prepareImage({ kind: "image", image: "shadowgate/does-not-exist:nope" })).rejects.toThrow(
      /image shadowgate\/does-not-exist:nope does not exist locally/,
    );
  });

  it("names the Dockerfile and shows the build log's tail when a step fails", async () => {
    const error = await runtime
      .prepareImage({ kind: "build", context: tinyContext, dockerfile: "Dockerfile.broken" })
      .then(() => undefined, (e: Error) => e);
    expect(error?.message).toContain(`image build failed for Dockerfile ${path.join(tinyContext, "Dockerfile.broken")} (context ${tinyContext})`);
    expect(error?.message).toContain("returned a non-zero code: 3");
    expect(error?.message).toContain("tiny-broken-build: deliberate failure");
    expect(error?.message).not.toMatch(/\u001b\[/);
  });

  it("rejects (does not hang) on a Dockerfile the engine cannot parse, and on a missing Dockerfile", async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), "shadowgate-bad-"));
    try {
      await writeFile(path.join(dir, "Dockerfile"), "FROM shadowgate/node-base:local\nFOO bar\n");
      await expect(runtime.prepareImage({ kind: "build", context: dir, dockerfile: "Dockerfile" })).rejects.toThrow(
        /image build failed for Dockerfile .*Dockerfile \(context .*\): .*unknown instruction: FOO/,
      );
      await expect(runtime.prepareImage({ kind: "build", context: dir, dockerfile: "Nope.dockerfile" })).rejects.toThrow(
        /Nope\.dockerfile .*the Dockerfile does not exist/,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("prepareImage: never pulls", () => {
  it("reads every FROM as the engine does: global ARG defaults, flags, stages, scratch, continuations", () => {
    const dockerfile = [
      "# escape=\\",
      "ARG REGISTRY=registry.example:5000",
      'ARG BASE="shadowgate/node-base" TAG',
      "ARG VERSION=22",
      "",
      "# a comment",
      "FROM --platform=linux/amd64 ${BASE}:local AS Build",
      "ARG VERSION=ignored-in-FROM",
      "RUN echo hi",
      "FROM build AS again",
      "FROM scratch",
      "from \\",
      "  # a comment inside a continuation",
      "  $REGISTRY/node:${VERSION}-slim as final",
      "FROM ${TAG:-fallback}/x:${VERSION:+set}",
      "FROM again",
    ].join("\n");
    expect(dockerfileBaseImages(dockerfile)).toEqual([
      { ref: "shadowgate/node-base:local", line: 7 },
      { ref: "registry.example:5000/node:22-slim", line: 12 },
      { ref: "fallback/x:set", line: 15 },
    ]);
    expect(dockerfileBaseImages("# escape=`\nFROM a:1 `\n  AS b\nFROM b\n")).toEqual([{ ref: "a:1", line: 2 }]);
  });

  it("fails before building, naming the Dockerfile line, when a base image is not in the local engine", async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), "shadowgate-from-"));
    const buildRunId = `${runId}-from`;
    const fromRuntime = new TestcontainersRuntime({ runId: buildRunId });
    try {
      const dockerfile = path.join(dir, "Dockerfile");
      await writeFile(
        dockerfile,
        [
          "ARG BASE=shadowgate/node-base",
          "ARG MISSING=shadowgate/no-such-base",
          "FROM ${BASE}:local AS build",
          'RUN ["node", "-e", "process.exit(0)"]',
          "FROM build",
          "FROM scratch",
          "FROM $MISSING:v1",
        ].join("\n"),
      );
      const t0 = performance.now();
      const error = await fromRuntime.prepareImage({ kind: "build", context: dir, dockerfile: "Dockerfile" }).then(
        () => undefined,
        (e: Error) => e,
      );
      expect(error?.message).toBe(
        `${dockerfile}:7: base image "shadowgate/no-such-base:v1" is not in the local Docker engine; Shadowgate never pulls images — build or load it first`,
      );
      expect(performance.now() - t0).toBeLessThan(3000);
      expect(labelledImages(buildRunId)).toEqual([]);
    } finally {
      await fromRuntime.removeImages();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("aborting a slow build rejects at once with the abort reason and leaves no image", async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), "shadowgate-slow-"));
    const buildRunId = `${runId}-abort`;
    const buildRuntime = new TestcontainersRuntime({ runId: buildRunId });
    try {
      // a quick step first: the layer it commits (if it got that far) is removed with the rest
      const marker = `sg-abort-${process.pid}-${Date.now()}`;
      await writeFile(
        path.join(dir, "Dockerfile"),
        `FROM shadowgate/node-base:local\nRUN ["node","-e","'${marker}'"]\nRUN ["node","-e","setTimeout(()=>{},5000)"]\n`,
      );
      const before = new Set(allImageIds());
      const controller = new AbortController();
      const t0 = performance.now();
      const outcome = buildRuntime
        .prepareImage({ kind: "build", context: dir, dockerfile: "Dockerfile" }, controller.signal)
        .then((tag) => `built ${tag}`, (e: Error) => e);
      setTimeout(() => controller.abort(new Error("run timed out after 1 s; shadows stopped")), 500);
      const error = await outcome;
      const took = performance.now() - t0;
      console.log(`[shadows] build aborted after 500 ms: rejected after ${Math.round(took)} ms`);
      expect(error).toBeInstanceOf(Error);
      expect((error as Error).message).toBe("run timed out after 1 s; shadows stopped");
      expect(took).toBeLessThan(1500);
      expect(labelledImages(buildRunId)).toEqual([]);
      expect(imageExists(`shadowgate/${path.basename(dir).toLowerCase()}:${buildRunId.toLowerCase()}`)).toBe(false);

      // a reason that is not an Error gives the generic message; an aborted signal never builds
      const early = new AbortController();
      early.abort("stop");
      await expect(
        buildRuntime.prepareImage({ kind: "build", context: dir, dockerfile: "Dockerfile" }, early.signal),
      ).rejects.toThrow(/^image build aborted$/);
      // the engine cancelled the build: it never finishes and labels an image later
      await new Promise((r) => setTimeout(r, 5500 - (performance.now() - t0)));
      expect(labelledImages(buildRunId)).toEqual([]);
      // A step still running when the build is cancelled may commit its (untagged, unlabelled)
      // layer after we disconnected; the legacy builder gives us no id for it. That is disk
      // garbage, not something running: remove it here, and do not assert on its absence.
      const leftLayers = allImageIds().filter((id) => !before.has(id) && imageCmd(id).includes(marker));
      if (leftLayers.length > 0) console.log(`[shadows] aborted build left ${leftLayers.length} untagged layer(s); removing`);
      for (const id of leftLayers) spawnSync("docker", ["rmi", "-f", id]);
    } finally {
      await buildRuntime.removeImages();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("start", () => {
  it("applies env, command arguments and exact CPU/memory limits", async () => {
    // 1.07 cores: Testcontainers' withResourcesQuota alone would give NanoCpus 1070000001.
    const s = await spec({ name: "limits", env: { SG_PARAM: "lru" }, command: ["node", "/app/server.js", "--pool=8"], cpus: 1.07, memoryMiB: 200 });
    const shadow = await runtime.start(s);
    try {
      expect(shadow.url).toBe(`http://127.0.0.1:${s.port}`);
      const limits = await shadow.inspectLimits();
      expect(limits.nanoCpus).toBe(1_070_000_000);
      expect(limits.memoryBytes).toBe(200 * 2 ** 20);
      expect(limits.env).toEqual(expect.arrayContaining([`PORT=${s.port}`, "SG_PARAM=lru"]));
      expect(limits.cmd).toEqual(["node", "/app/server.js", "--pool=8"]);

      const seen = await getJson<{ env: Record<string, string>; argv: string[] }>(`${shadow.url}/env`);
      expect(seen.env.SG_PARAM).toBe("lru");
      expect(seen.env.PORT).toBe(String(s.port));
      expect(seen.argv.slice(2)).toEqual(["--pool=8"]);

      const labels = JSON.parse(
        execFileSync("docker", ["inspect", "--format", "{{ json .Config.Labels }}", shadow.id], { encoding: "utf8" }),
      ) as Record<string, string>;
      expect(labels).toMatchObject({ shadowgate: runId, "shadowgate.name": "limits", "shadowgate.config": JSON.stringify({ case: "limits" }) });
    } finally {
      await shadow.stop();
      await shadow.stop(); // idempotent
    }
    expect(labelled()).toEqual([]);
  });

  it("copies rendered files into the container before the workload starts", async () => {
    const files = [
      // required by node at start: the value reaches /env only if the file was there before start
      { path: "/etc/shadowgate/preload.js", content: 'process.env.SG_FROM_FILE = "workers=4";\n' },
      { path: "/etc/app/app.conf", content: "worker_processes 4;\nkeepalive_timeout 65;\n" },
    ];
    const s = await spec({ name: "files", command: ["node", "--require", "/etc/shadowgate/preload.js", "/app/server.js"], files });
    const shadow = await runtime.start(s);
    const out = await mkdtemp(path.join(os.tmpdir(), "shadowgate-files-"));
    try {
      const seen = await getJson<{ env: Record<string, string> }>(`${shadow.url}/env`);
      expect(seen.env.SG_FROM_FILE).toBe("workers=4");
      execFileSync("docker", ["cp", `${shadow.id}:/etc/app/app.conf`, path.join(out, "app.conf")]);
      expect(await readFile(path.join(out, "app.conf"), "utf8")).toBe(files[1]!.content);
    } finally {
      await shadow.stop();
      await rm(out, { recursive: true, force: true });
    }
  });

  it("starts shadows in parallel, each on its own port, and reports start-to-ready times", async () => {
    const specs = await Promise.all(["par-1", "par-2", "par-3", "par-4"].map((name) => spec({ name, cpus: 0.25, memoryMiB: 128 })));
    const t0 = performance.now();
    const shadows = (await Promise.all(specs.map((s) => runtime.start(s)))) as TestcontainersShadow[];
    const allReadyMs = performance.now() - t0;
    try {
      expect(new Set(specs.map((s) => s.port)).size).toBe(4);
      for (const shadow of shadows) expect(await (await fetch(`${shadow.url}/healthz`)).text()).toBe("ok");
      const times = shadows.map((s) => Math.round(s.startToReadyMs));
      console.log(`[shadows] 4 in parallel: start-to-ready ${times.join(", ")} ms; all ready after ${Math.round(allReadyMs)} ms`);
    } finally {
      const t1 = performance.now();
      await Promise.all(shadows.map((s) => s.stop()));
      console.log(`[shadows] 4 in parallel: stopped in ${Math.round(performance.now() - t1)} ms`);
    }
    const single = (await runtime.start(await spec({ name: "single" }))) as TestcontainersShadow;
    console.log(`[shadows] single start-to-ready ${Math.round(single.startToReadyMs)} ms`);
    await single.stop();
  });

  it("rejects a shadow that never becomes ready within its timeout, with a clear message, and leaves nothing", async () => {
    const s = await spec({ name: "never", env: { NEVER_READY: "1" }, readyTimeoutMs: 2000 });
    const t0 = performance.now();
    const error = await runtime.start(s).then(() => undefined, (e: Error) => e);
    const took = performance.now() - t0;
    expect(error?.message).toMatch(
      new RegExp(`^shadow never not ready at http://127\\.0\\.0\\.1:${s.port}/healthz after \\d+ ms: HTTP 503`),
    );
    expect(error?.message).toContain(`tiny listening on http://127.0.0.1:${s.port}`); // the log tail
    expect(took).toBeGreaterThanOrEqual(2000);
    expect(took).toBeLessThan(2000 + 3000);
    expect(labelled()).toEqual([]);
  });

  it("fails fast when the container exits before it is ready", async () => {
    const s = await spec({ name: "crash", command: ["node", "-e", "console.error('tiny: giving up'); process.exit(7)"], readyTimeoutMs: 20_000 });
    const t0 = performance.now();
    await expect(runtime.start(s)).rejects.toThrow(/shadow crash not ready at .* ms: container exited with exit code 7[\s\S]*tiny: giving up/);
    expect(performance.now() - t0).toBeLessThan(5000);
    expect(labelled()).toEqual([]);
  });

  it("refuses a port that something else already answers on", async () => {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as net.AddressInfo).port;
    try {
      await expect(runtime.start(await spec({ name: "taken", port }))).rejects.toThrow(
        `shadow taken: port ${port} on 127.0.0.1 is already in use`,
      );
    } finally {
      server.close();
    }
  });

  it("removes the container when the engine cannot start it (created, never started)", async () => {
    // Testcontainers leaves a created container behind when start itself fails
    await expect(runtime.start(await spec({ name: "no-binary", command: ["/no/such/binary"] }))).rejects.toThrow(
      /^shadow no-binary: start failed: .*no such file or directory/s,
    );
    expect(labelled()).toEqual([]);
  });

  it("rejects a CPU quota the engine refuses, naming the shadow", async () => {
    // 0.001 cores is below Docker's minimum of 0.01
    await expect(runtime.start(await spec({ name: "bad-cpus", cpus: 0.001 }))).rejects.toThrow(/^shadow bad-cpus: start failed: .*CPU/is);
    expect(labelled()).toEqual([]);
  });

  it("cleanup() removes every container of the run in any state and counts them", async () => {
    const a = await runtime.start(await spec({ name: "clean-a", cpus: 0.25, memoryMiB: 64 }));
    await runtime.start(await spec({ name: "clean-b", cpus: 0.25, memoryMiB: 64 }));
    execFileSync("docker", ["stop", "-t", "0", a.id]); // one exited, one running
    expect(labelled()).toHaveLength(2);
    expect(await runtime.cleanup()).toBe(2);
    expect(labelled()).toEqual([]);
    await a.stop(); // already removed: still resolves
  });

  it("cleanup() aborts a start in flight, which then removes its container", async () => {
    const pending = runtime.start(await spec({ name: "inflight", env: { NEVER_READY: "1" }, readyTimeoutMs: 30_000 }));
    const outcome = pending.then(() => "started", (e: Error) => e.message);
    await expect.poll(() => labelled().length, { timeout: 10_000, interval: 50 }).toBe(1);
    const t0 = performance.now();
    await runtime.cleanup();
    expect(await outcome).toMatch(/^shadow inflight: start aborted/);
    expect(performance.now() - t0).toBeLessThan(5000);
    expect(labelled()).toEqual([]);
  });

  it("a caller's signal aborts a start that never gets ready at once, and leaves nothing", async () => {
    const controller = new AbortController();
    const pending = runtime.start(await spec({ name: "abort-me", env: { NEVER_READY: "1" }, readyTimeoutMs: 30_000 }), controller.signal);
    const outcome = pending.then(() => "started", (e: Error) => e.message);
    await expect.poll(() => labelled().length, { timeout: 10_000, interval: 50 }).toBe(1);
    await new Promise((r) => setTimeout(r, 300)); // well into the readiness wait
    const t0 = performance.now();
    controller.abort(new Error("run interrupted by SIGINT; shadows stopped"));
    const message = await outcome;
    const took = performance.now() - t0;
    console.log(`[shadows] start aborted: rejected ${Math.round(took)} ms after the abort`);
    expect(message).toBe("shadow abort-me: start aborted (run interrupted by SIGINT; shadows stopped)");
    expect(took).toBeLessThan(1500);
    expect(labelled()).toEqual([]);

    // already aborted: nothing is created at all
    await expect(runtime.start(await spec({ name: "too-late" }), controller.signal)).rejects.toThrow(
      /^shadow too-late: start aborted \(run interrupted by SIGINT/,
    );
    expect(labelled()).toEqual([]);
  });

  it("removeAllShadowgateContainers removes by run id", async () => {
    await runtime.start(await spec({ name: "helper", cpus: 0.25, memoryMiB: 64 }));
    expect(await removeAllShadowgateContainers(`${runId}-other`)).toBe(0);
    expect(await removeAllShadowgateContainers(runId)).toBe(1);
  });
});

describe("signals", () => {
  it("SIGTERM: the process removes its shadows and exits with 143", async () => {
    const childRunId = `${runId}-sig`;
    const child = spawn(process.execPath, ["--import", "tsx", path.join(root, "test/integration/helpers/shadows-signal-child.ts"), childRunId, image], {
      cwd: root,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    try {
      await expect
        .poll(() => stdout, { timeout: 60_000, interval: 100 })
        .toMatch(/^ready \w+ \w+/);
      expect(labelled(childRunId)).toHaveLength(2);
      const t0 = performance.now();
      child.kill("SIGTERM");
      const code = await exited;
      console.log(`[shadows] SIGTERM → child exit ${code} after ${Math.round(performance.now() - t0)} ms`);
      expect(code, stderr).toBe(143);
      expect(stderr).toMatch(/removed 2 shadow container/);
      expect(labelled(childRunId)).toEqual([]);
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
      await removeAllShadowgateContainers(childRunId);
    }
  });
});

describe("signals in process", () => {
  it("SIGHUP and SIGQUIT also clean up, exiting with 129 and 131", async () => {
    for (const [signal, code] of [["SIGHUP", 129], ["SIGQUIT", 131]] as const) {
      let cleanups = 0;
      const seen: NodeJS.Signals[] = [];
      const exited = new Promise<number>((resolve) => {
        const cleanup = installSignalCleanup(
          { cleanup: async () => ++cleanups },
          { onSignal: (s) => seen.push(s), exit: (c) => {
            cleanup.uninstall();
            resolve(c);
          } },
        );
      });
      process.emit(signal, signal); // the listeners only: no real signal reaches the worker
      expect(await exited).toBe(code);
      expect(seen).toEqual([signal]);
      expect(cleanups).toBe(1);
    }
  });
});

describe("resource sampling", () => {
  const work = [{ method: "GET", path: "/work?ms=2", headers: {} }];
  const loadOptions = { connections: 4, warmupMs: 0, durationMs: 2000, windowMs: 1000, timeoutMs: 5000 };

  it("gives plausible CPU and memory under load, over exactly the sampled window", async () => {
    const shadow = (await runtime.start(await spec({ name: "stats", cpus: 1, memoryMiB: 256 }))) as TestcontainersShadow;
    try {
      expect(shadow.statsSource).toBe("cgroup"); // Docker runs on this host

      // a sub-second idle window still gives figures
      const idle = shadow.sampleResources();
      await new Promise((r) => setTimeout(r, 200));
      const idleUsage = await idle.stop();
      expect(idleUsage.samples).toBeGreaterThanOrEqual(2);
      expect(idleUsage.windowS).toBeGreaterThan(0.15);
      expect(idleUsage.windowS).toBeLessThan(0.5);
      expect(idleUsage.cpuPercent).toBeLessThan(50);
      expect(idleUsage.memoryPeakMiB).toBeGreaterThan(5);
      expect(Number.isFinite(idleUsage.cpuPercentSd)).toBe(true);

      await fetch(`${shadow.url}/alloc?mib=32`);
      // as the pipeline does: sample exactly the measured window, after the warm-up
      let sampler: ReturnType<TestcontainersShadow["sampleResources"]> | undefined;
      const load = await new AutocannonDriver().run(shadow.url, work, {
        ...loadOptions,
        warmupMs: 500,
        onMeasureStart: () => (sampler = shadow.sampleResources()),
      });
      const usage = await sampler!.stop();
      const elapsedS = load.durationS;
      console.log(`[shadows] cgroup stats under load: ${JSON.stringify(usage)}; ${load.requests} requests in ${load.durationS.toFixed(3)} s`);
      expect(load.requests).toBeGreaterThan(100);
      // the sampled window is the measured window (plus the moment run() takes to resolve)
      expect(usage.windowS).toBeGreaterThan(elapsedS - 0.05);
      expect(usage.windowS).toBeLessThan(elapsedS + 0.15);
      expect(usage.samples).toBeGreaterThanOrEqual(6); // polled every 250 ms
      expect(usage.cpuPercent).toBeGreaterThan(10); // busy-looping against a 1-core quota
      expect(usage.cpuPercent).toBeLessThanOrEqual(100 + 15);
      expect(usage.cpuSeconds).toBeCloseTo((usage.cpuPercent / 100) * usage.windowS, 6);
      // each request busy-loops 2 ms of wall time: about 2 ms of CPU (less when descheduled)
      const cpuMsPerRequest = (usage.cpuSeconds / load.requests) * 1000;
      expect(cpuMsPerRequest).toBeGreaterThan(0.5);
      expect(cpuMsPerRequest).toBeLessThan(4);
      expect(usage.memoryPeakMiB).toBeGreaterThan(32);
      expect(usage.memoryPeakMiB).toBeLessThan(256);
      expect(Number.isFinite(usage.cpuPercentSd)).toBe(true);

      // CPU spread over ~250 ms sub-intervals: busy, idle, busy, idle
      const varying = shadow.sampleResources();
      for (let phase = 0; phase < 4; phase++) {
        const until = performance.now() + 600;
        if (phase % 2 === 0) while (performance.now() < until) await fetch(`${shadow.url}/work?ms=50`).then((r) => r.text());
        else await new Promise((r) => setTimeout(r, 600));
      }
      const spread = await varying.stop();
      console.log(`[shadows] varying load: cpu ${spread.cpuPercent.toFixed(1)} % ± ${spread.cpuPercentSd?.toFixed(1)} over ${spread.samples} samples`);
      expect(Number.isFinite(spread.cpuPercentSd)).toBe(true);
      expect(spread.cpuPercentSd).toBeGreaterThan(10); // ~0 % and up to 100 % sub-intervals
      expect(spread.cpuPercentSd).toBeLessThan(100);
    } finally {
      await shadow.stop();
    }
  });

  it("falls back to the Docker stats API with the same figures, coarser in time", async () => {
    const apiRuntime = new TestcontainersRuntime({ runId, stats: "docker-api" });
    const shadow = (await apiRuntime.start(await spec({ name: "stats-api", cpus: 1, memoryMiB: 256 }))) as TestcontainersShadow;
    try {
      expect(shadow.statsSource).toBe("docker-api");
      const short = shadow.sampleResources();
      await new Promise((r) => setTimeout(r, 100));
      const shortUsage = await short.stop();
      expect(shortUsage.samples).toBeGreaterThanOrEqual(2);
      expect(shortUsage.memoryPeakMiB).toBeGreaterThan(5);

      const sampler = shadow.sampleResources();
      const load = await new AutocannonDriver().run(shadow.url, work, loadOptions);
      const usage = await sampler.stop();
      console.log(`[shadows] docker-api stats under load: ${JSON.stringify(usage)}; ${load.requests} requests`);
      expect(usage.source).toBe("docker-api");
      expect(usage.samples).toBeGreaterThanOrEqual(3); // both ends plus the 1 s stream
      expect(usage.cpuPercent).toBeGreaterThan(10);
      expect(usage.cpuPercent).toBeLessThanOrEqual(100 + 15);
      expect(usage.windowS).toBeGreaterThan(1);
      expect(usage.windowS).toBeLessThan(2 + 2.2); // each end may lag the collector by up to 1 s
      expect(Number.isFinite(usage.cpuPercentSd)).toBe(true);
      expect(usage.cpuPercentSd).toBeGreaterThanOrEqual(0);
    } finally {
      await shadow.stop();
    }
  });
});
