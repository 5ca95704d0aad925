/**
 * The Docker engine behind the shadow runtime: is it there, and low-level access that
 * Testcontainers does not offer (stats, label-based removal, image builds with their log).
 */
import http from "node:http";
import { getContainerRuntimeClient, type ContainerRuntimeClient } from "testcontainers";

/** dockerode as Testcontainers configured it (same socket, same options). */
export type Dockerode = ContainerRuntimeClient["container"]["dockerode"];

/** The label every Shadowgate container and image carries; its value is the run id. */
export const RUN_LABEL = "shadowgate";

/** Where the engine is expected: DOCKER_HOST when set, else the default Unix socket. */
export function dockerEndpoint(): string {
  const host = process.env.DOCKER_HOST?.trim();
  return host && host.length > 0 ? host : "unix:///var/run/docker.sock";
}

function ping(endpoint: string, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let options: http.RequestOptions;
    if (endpoint.startsWith("unix://")) {
      options = { socketPath: endpoint.slice("unix://".length), path: "/_ping" };
    } else if (endpoint.startsWith("tcp://") || endpoint.startsWith("http://")) {
      const url = new URL(endpoint.replace(/^tcp:/, "http:"));
      options = { host: url.hostname, port: Number(url.port || 2375), path: "/_ping" };
    } else {
      reject(new Error(`unsupported DOCKER_HOST scheme (expected unix:// or tcp://)`));
      return;
    }
    const req = http.get({ ...options, timeout: timeoutMs, agent: false }, (res) => {
      res.resume();
      if (res.statusCode === 200) resolve();
      else reject(new Error(`/_ping answered HTTP ${res.statusCode}`));
    });
    req.on("timeout", () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on("error", reject);
  });
}

export type DockerAvailability = { ok: true; endpoint: string } | { ok: false; endpoint: string; reason: string };

/**
 * Whether a Docker engine answers. Pings the endpoint directly (a clear reason such as
 * `connect ENOENT /var/run/docker.sock`); with TLS settings it asks Testcontainers' client instead.
 */
export async function dockerAvailable(timeoutMs = 3000): Promise<DockerAvailability> {
  const endpoint = dockerEndpoint();
  try {
    if (process.env.DOCKER_TLS_VERIFY || process.env.DOCKER_CERT_PATH) {
      const client = await getContainerRuntimeClient();
      await client.container.dockerode.ping();
    } else {
      await ping(endpoint, timeoutMs);
    }
    return { ok: true, endpoint };
  } catch (error) {
    return { ok: false, endpoint, reason: error instanceof Error ? error.message : String(error) };
  }
}

/** Throws a one-line error when no engine answers. */
export async function assertDockerAvailable(timeoutMs = 3000): Promise<void> {
  const availability = await dockerAvailable(timeoutMs);
  if (!availability.ok) {
    throw new Error(
      `no Docker engine answers at ${availability.endpoint}: ${availability.reason}; run scripts/ensure-docker.sh`,
    );
  }
}

/** dockerode through Testcontainers' runtime client, with the one-line error when the engine is down. */
export async function getDockerode(): Promise<Dockerode> {
  try {
    const client = await getContainerRuntimeClient();
    return client.container.dockerode;
  } catch (error) {
    await assertDockerAvailable();
    throw error;
  }
}

/** HTTP status of a dockerode error, when it has one. */
export function dockerStatus(error: unknown): number | undefined {
  if (typeof error === "object" && error !== null && "statusCode" in error) {
    const status = (error as { statusCode?: unknown }).statusCode;
    return typeof status === "number" ? status : undefined;
  }
  return undefined;
}

/**
 * Force-remove containers carrying the Shadowgate label, in every state. With a value, only
 * that run's (`shadowgate=<value>`); without, every run's. Returns how many were removed.
 */
export async function removeAllShadowgateContainers(filterValue?: string, extraLabel?: string): Promise<number> {
  const docker = await getDockerode();
  const labels = [filterValue === undefined ? RUN_LABEL : `${RUN_LABEL}=${filterValue}`];
  if (extraLabel) labels.push(extraLabel);
  const containers = await docker.listContainers({ all: true, filters: { label: labels } });
  const results = await Promise.allSettled(
    containers.map((info) => docker.getContainer(info.Id).remove({ force: true, v: true })),
  );
  let removed = 0;
  const failures: string[] = [];
  results.forEach((result, i) => {
    if (result.status === "fulfilled") removed++;
    // 404: already gone; 409: removal already in progress — both end with no container.
    else if (![404, 409].includes(dockerStatus(result.reason) ?? 0)) {
      failures.push(`${containers[i]?.Id.slice(0, 12)}: ${String(result.reason)}`);
    }
  });
  if (failures.length > 0) {
    throw new Error(`could not remove ${failures.length} shadow container(s): ${failures.join("; ")}`);
  }
  return removed;
}

/** Demultiplex a non-TTY `docker logs` buffer (8-byte frame headers) into text. */
export function demuxDockerLog(buffer: Buffer): string {
  const parts: string[] = [];
  let offset = 0;
  while (offset + 8 <= buffer.length) {
    const type = buffer[offset];
    const size = buffer.readUInt32BE(offset + 4);
    if (type === undefined || type > 2 || buffer[offset + 1] !== 0) {
      // not a multiplexed stream (TTY container): plain text
      return buffer.toString("utf8");
    }
    parts.push(buffer.subarray(offset + 8, offset + 8 + size).toString("utf8"));
    offset += 8 + size;
  }
  return parts.length > 0 || buffer.length === 0 ? parts.join("") : buffer.toString("utf8");
}

/** The last lines a container wrote (stdout and stderr), or a note why they are unavailable. */
export async function containerLogTail(docker: Dockerode, id: string, lines = 20): Promise<string> {
  try {
    const raw: unknown = await docker.getContainer(id).logs({ stdout: true, stderr: true, tail: lines, follow: false });
    const buffer = Buffer.isBuffer(raw) ? raw : Buffer.from(String(raw));
    return demuxDockerLog(buffer).trimEnd();
  } catch (error) {
    return `(logs unavailable: ${error instanceof Error ? error.message : String(error)})`;
  }
}
