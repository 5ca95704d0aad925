/**
 * Building the workload image from a Dockerfile, with the build log kept for the error message.
 *
 * Why not `GenericContainer.fromDockerfile(...).build()`: in testcontainers 12.0.1 it discards the
 * build output (a failed step only gives "Failed to build image"), and when the engine rejects the
 * request (HTTP 400 for a Dockerfile parse error) its promise never settles and the rejection goes
 * unhandled — the process hangs or crashes. This does the same request (legacy builder, context
 * tar honouring .dockerignore, no pull) through the same dockerode client, and reads the stream.
 *
 * The legacy builder pulls a missing base image on its own; `assertBaseImagesLocal` checks every
 * FROM of the Dockerfile against the local engine first, so a build never reaches a registry.
 */
import { promises as fs } from "node:fs";
import path from "node:path";
import dockerignoreModule from "@balena/dockerignore";
import tar from "tar-fs";
import { dockerStatus, type Dockerode } from "./docker.js";
import { abortReason } from "../core/errors.js";

// CommonJS with `factory.default = factory`: the default export is callable either way.
const dockerignore = dockerignoreModule.default;

export interface BuildRequest {
  /** absolute context directory */
  context: string;
  /** Dockerfile path relative to the context, forward slashes */
  dockerfile: string;
  tag: string;
  labels: Record<string, string>;
  /** lines of build output kept for an error message */
  tailLines?: number;
}

export interface BuildOutcome {
  imageId: string | undefined;
  /** the last lines of the build log */
  tail: string[];
}

/** Every file below `context`, relative, forward slashes (directories are implied by their files). */
async function listContext(context: string): Promise<string[]> {
  const files: string[] = [];
  const pending = [""];
  while (pending.length > 0) {
    const dir = pending.pop() as string;
    const entries = await fs.readdir(path.join(context, dir), { withFileTypes: true });
    for (const entry of entries) {
      const relative = dir ? `${dir}/${entry.name}` : entry.name;
      if (entry.isDirectory()) pending.push(relative);
      else files.push(relative);
    }
  }
  return files;
}

/**
 * The build context as a tar stream, as the docker CLI sends it: .dockerignore applies to
 * the files, but the Dockerfile and .dockerignore themselves are always sent (dockerode's
 * own packing would drop a Dockerfile that .dockerignore excludes, and the build then fails
 * with "Cannot locate specified Dockerfile").
 */
async function contextTar(context: string, dockerfile: string): Promise<NodeJS.ReadableStream> {
  let ignore: ((file: string) => boolean) | undefined;
  try {
    const rules = await fs.readFile(path.join(context, ".dockerignore"), "utf8");
    const filter = dockerignore({ ignorecase: false }).add(rules).createFilter();
    ignore = (file) => !filter(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  const always = new Set([dockerfile, ".dockerignore"]);
  const entries = (await listContext(context)).filter((file) => always.has(file) || !ignore?.(file));
  return tar.pack(context, { entries });
}

/** The Error an aborted build rejects with: the abort reason's message when it is an Error. */
function destroyStream(stream: NodeJS.ReadableStream): void {
  const s = stream as NodeJS.ReadableStream & { destroy?: () => void };
  if (typeof s.destroy === "function") s.destroy();
  else s.removeAllListeners();
}

/**
 * What a cancelled build may leave: its tag, the final image, the layers its steps committed and
 * the intermediate container of the step running (legacy builder output: "Step n/m : INSTR",
 * " ---> Running in <container>", "Removing intermediate container <container>", then
 * " ---> <id>", or " ---> Using cache" and " ---> <id>" for a cached step). FROM and cached
 * steps are not ours; every other step's id is.
 */
class BuildTrace {
  readonly layers: string[] = [];
  /** the intermediate container of the step in progress */
  container: string | undefined;
  private instruction = "";
  private cached = false;

  line(text: string): void {
    const running = /^\s*---> Running in ([0-9a-f]{12,64})\s*$/.exec(text)?.[1];
    if (running) {
      this.container = running;
      return;
    }
    if (this.container && text.trim() === `Removing intermediate container ${this.container}`) {
      this.container = undefined;
      return;
    }
    const step = /^Step \d+\/\d+ : (\S+)/.exec(text);
    if (step) {
      this.instruction = (step[1] ?? "").toUpperCase();
      this.cached = false;
      return;
    }
    if (/^\s*---> Using cache\s*$/.test(text)) {
      this.cached = true;
      return;
    }
    const id = /^\s*---> ([0-9a-f]{12,64})\s*$/.exec(text)?.[1];
    if (id && this.instruction !== "" && this.instruction !== "FROM" && !this.cached && !this.layers.includes(id)) {
      this.layers.push(id);
    }
  }
}

/**
 * Remove what an aborted build left (best effort: 404 and 409 are expected and ignored). The
 * step's container goes first: the engine removes it only once it has noticed the cancellation,
 * and while it exists the layer it runs on cannot be removed.
 */
async function removePartialBuild(docker: Dockerode, tag: string, imageId: string | undefined, trace: BuildTrace): Promise<void> {
  const ignoreGone = (error: unknown): void => {
    if (![404, 409].includes(dockerStatus(error) ?? 0)) throw error;
  };
  if (trace.container) await docker.getContainer(trace.container).remove({ force: true, v: true }).catch(ignoreGone);
  // the tag first (it is ours: one per build), then the image and the committed layers, newest first
  await docker.getImage(tag).remove({ force: true }).catch(ignoreGone);
  if (imageId) await docker.getImage(imageId).remove().catch(ignoreGone);
  for (const layer of [...trace.layers].reverse()) await docker.getImage(layer).remove().catch(ignoreGone);
}

/**
 * Build the image; resolves with its id, rejects with the build log's tail in the message.
 * `signal` aborts it: the build stream is closed (the engine cancels the build), whatever it
 * left is removed, and the promise rejects with the reason's message ("image build aborted"
 * when the reason is not an Error).
 */
export async function buildImage(docker: Dockerode, request: BuildRequest, signal?: AbortSignal): Promise<BuildOutcome> {
  const keep = request.tailLines ?? 15;
  const tail: string[] = [];
  const trace = new BuildTrace();
  const remember = (text: string): void => {
    // eslint-disable-next-line no-control-regex
    for (const line of text.replace(/\u001b\[[0-9;]*[A-Za-z]/g, "").split(/\r?\n/)) {
      if (line.trim().length === 0) continue;
      trace.line(line);
      tail.push(line);
      if (tail.length > keep) tail.shift();
    }
  };
  const aborted = (): Error => abortReason(signal as AbortSignal, "image build aborted");
  if (signal?.aborted) throw aborted();

  let stream: NodeJS.ReadableStream | undefined;
  let imageId: string | undefined;
  let failure: string | undefined;
  let rejectRead: ((error: Error) => void) | undefined;
  const onAbort = (): void => {
    if (stream) destroyStream(stream);
    rejectRead?.(aborted());
  };
  signal?.addEventListener("abort", onAbort, { once: true });
  try {
    const context = await contextTar(request.context, request.dockerfile);
    if (signal?.aborted) throw aborted();
    stream = await docker.buildImage(context, {
      t: request.tag,
      dockerfile: request.dockerfile,
      labels: request.labels,
      rm: true,
      forcerm: true,
      version: "1",
      // closes the request if the signal fires before the engine answers
      ...(signal ? { abortSignal: signal } : {}),
    });
    if (signal?.aborted) {
      destroyStream(stream);
      throw aborted();
    }
    const build = stream;
    await new Promise<void>((resolve, reject) => {
      rejectRead = reject;
      let buffered = "";
      const handleLine = (line: string): void => {
        if (line.trim().length === 0) return;
        let event: { stream?: string; error?: string; errorDetail?: { message?: string }; aux?: { ID?: string } };
        try {
          event = JSON.parse(line) as typeof event;
        } catch {
          remember(line);
          return;
        }
        if (typeof event.stream === "string") remember(event.stream);
        if (event.aux?.ID) imageId = event.aux.ID;
        const message = event.errorDetail?.message ?? event.error;
        if (message) {
          failure = message;
          remember(`ERROR: ${message}`);
        }
      };
      build.on("data", (chunk: Buffer | string) => {
        buffered += chunk.toString();
        let newline: number;
        while ((newline = buffered.indexOf("\n")) >= 0) {
          handleLine(buffered.slice(0, newline));
          buffered = buffered.slice(newline + 1);
        }
      });
      const finish = (): void => {
        handleLine(buffered);
        buffered = "";
        resolve();
      };
      build.on("end", finish);
      build.on("close", finish);
      build.on("error", reject);
    });
    // a stream closed by the abort may have ended "normally" just before the rejection
    if (signal?.aborted) throw aborted();
  } catch (error) {
    if (!signal?.aborted) throw error;
    await removePartialBuild(docker, request.tag, imageId, trace).catch(() => undefined);
    throw aborted();
  } finally {
    signal?.removeEventListener("abort", onAbort);
  }
  if (failure !== undefined) {
    const error = new Error(failure) as Error & { buildTail?: string[] };
    error.buildTail = tail;
    throw error;
  }
  return { imageId, tail };
}

/** A base image a Dockerfile's FROM names, with the line the instruction starts on (1-based). */
export interface BaseImageRef {
  ref: string;
  line: number;
}

/**
 * The base images of a Dockerfile, in order: every FROM's image after substituting the global
 * `ARG NAME=default` values (those before the first FROM, the only ones FROM can use; the build
 * passes no --build-arg) written as `$NAME`, `${NAME}`, `${NAME:-word}` or `${NAME:+word}`.
 * `scratch` and the names of earlier stages (`FROM x AS name`) are not images and are skipped.
 * Honours line continuations, comments and the `# escape=` parser directive.
 */
export function dockerfileBaseImages(text: string): BaseImageRef[] {
  const lines = text.replace(/^\uFEFF/, "").split(/\r?\n/);
  let escape = "\\";
  let index = 0;
  // parser directives: only at the very top, before any blank line, comment or instruction
  for (; index < lines.length; index++) {
    const directive = /^#\s*([A-Za-z][A-Za-z0-9_-]*)\s*=\s*(\S*)\s*$/.exec(lines[index] ?? "");
    if (!directive) break;
    if (directive[1]?.toLowerCase() === "escape" && (directive[2] === "`" || directive[2] === "\\")) escape = directive[2];
  }
  const instructions: { text: string; line: number }[] = [];
  let current: { text: string; line: number } | undefined;
  for (; index < lines.length; index++) {
    const raw = lines[index] ?? "";
    const trimmed = raw.trim();
    if (trimmed === "" || trimmed.startsWith("#")) continue; // comments and blank lines, also inside a continuation
    const continues = raw.trimEnd().endsWith(escape);
    const part = continues ? raw.trimEnd().slice(0, -1) : raw;
    if (current) current.text += part;
    else current = { text: part, line: index + 1 };
    if (!continues) {
      instructions.push(current);
      current = undefined;
    }
  }
  if (current) instructions.push(current);

  const args = new Map<string, string>();
  const stages = new Set<string>();
  const images: BaseImageRef[] = [];
  let seenFrom = false;
  const substitute = (value: string): string =>
    value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::([-+])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g, (_, braced?: string, op?: string, word?: string, bare?: string) => {
      const name = (braced ?? bare) as string;
      const value = args.get(name) ?? "";
      if (op === "-") return value !== "" ? value : (word ?? "");
      if (op === "+") return value !== "" ? (word ?? "") : "";
      return value;
    });
  for (const instruction of instructions) {
    const match = /^\s*([A-Za-z]+)\s+([\s\S]*)$/.exec(instruction.text);
    if (!match) continue;
    const keyword = (match[1] ?? "").toUpperCase();
    const rest = (match[2] ?? "").trim();
    if (keyword === "ARG" && !seenFrom) {
      for (const arg of rest.matchAll(/([A-Za-z_][A-Za-z0-9_]*)(?:=("([^"]*)"|'([^']*)'|\S*))?/g)) {
        const name = arg[1] as string;
        if (arg[2] === undefined) {
          if (!args.has(name)) args.set(name, "");
        } else {
          args.set(name, substitute(arg[3] ?? arg[4] ?? arg[2]));
        }
      }
      continue;
    }
    if (keyword !== "FROM") continue;
    seenFrom = true;
    const tokens = rest.split(/\s+/).filter((token) => token.length > 0);
    const at = tokens.findIndex((token) => !token.startsWith("--"));
    const image = at >= 0 ? substitute(tokens[at] as string) : "";
    const alias = tokens[at + 1]?.toLowerCase() === "as" ? tokens[at + 2] : undefined;
    if (image !== "" && image.toLowerCase() !== "scratch" && !stages.has(image.toLowerCase())) {
      images.push({ ref: image, line: instruction.line });
    }
    if (alias) stages.add(alias.toLowerCase());
  }
  return images;
}

/**
 * Fail before a build when a base image is missing locally (the engine would pull it):
 * `<dockerfile>:<line>: base image "<ref>" is not in the local Docker engine; ...`.
 */
export async function assertBaseImagesLocal(docker: Dockerode, dockerfilePath: string): Promise<void> {
  const bases = dockerfileBaseImages(await fs.readFile(dockerfilePath, "utf8"));
  const missing = await Promise.all(
    bases.map(async (base) => {
      try {
        await docker.getImage(base.ref).inspect();
        return undefined;
      } catch (error) {
        const status = dockerStatus(error);
        // 404: missing; 400: not a valid reference, so not in the engine either
        if (status === 404 || status === 400) return base;
        throw new Error(
          `${dockerfilePath}:${base.line}: inspecting base image "${base.ref}" failed: ${error instanceof Error ? error.message : String(error)}`,
        );
      }
    }),
  );
  const first = missing.find((base): base is BaseImageRef => base !== undefined);
  if (first) {
    throw new Error(
      `${dockerfilePath}:${first.line}: base image "${first.ref}" is not in the local Docker engine; Shadowgate never pulls images — build or load it first`,
    );
  }
}
