/**
 * Building the workload image from a Dockerfile, with the build log kept for the error message.
 *
 * Why not `GenericContainer.fromDockerfile(...).build()`: in testcontainers 12.0.1 it discards the
 * build output (a failed step only gives "Failed to build image"), and when the engine rejects the
 * request (HTTP 400 for a Dockerfile parse error) its promise never settles and the rejection goes
 * unhandled — the process hangs or crashes. This does the same request (legacy builder, context
 * tar honouring .dockerignore, no pull) through the same dockerode client, and reads the stream.
 */
import { promises as fs } from "node:fs";
import path from "node:path";
import dockerignoreModule from "@balena/dockerignore";
import tar from "tar-fs";
import type { Dockerode } from "./docker.js";

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

/** Build the image; resolves with its id, rejects with the build log's tail in the message. */
export async function buildImage(docker: Dockerode, request: BuildRequest): Promise<BuildOutcome> {
  const keep = request.tailLines ?? 15;
  const tail: string[] = [];
  const remember = (text: string): void => {
    // eslint-disable-next-line no-control-regex
    for (const line of text.replace(/\u001b\[[0-9;]*[A-Za-z]/g, "").split(/\r?\n/)) {
      if (line.trim().length === 0) continue;
      tail.push(line);
      if (tail.length > keep) tail.shift();
    }
  };
  const stream = await docker.buildImage(
    await contextTar(request.context, request.dockerfile),
    {
      t: request.tag,
      dockerfile: request.dockerfile,
      labels: request.labels,
      rm: true,
      forcerm: true,
      version: "1",
    },
  );
  let imageId: string | undefined;
  let failure: string | undefined;
  await new Promise<void>((resolve, reject) => {
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
    stream.on("data", (chunk: Buffer | string) => {
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
    stream.on("end", finish);
    stream.on("close", finish);
    stream.on("error", reject);
  });
  if (failure !== undefined) {
    const error = new Error(failure) as Error & { buildTail?: string[] };
    error.buildTail = tail;
    throw error;
  }
  return { imageId, tail };
}
