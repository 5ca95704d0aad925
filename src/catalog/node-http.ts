/** Node.js HTTP services: libuv's thread pool, V8's heap, cluster workers. */
import type { CategoryCatalog } from "./types.js";

export const nodeHttp: CategoryCatalog = {
  category: "node-http",
  title: "Node.js HTTP services",
  knobs: [
    {
      name: "UV_THREADPOOL_SIZE",
      type: "int",
      min: 1,
      max: 128,
      scale: "log",
      apply: { kind: "env", name: "UV_THREADPOOL_SIZE" },
      doc: "threads of libuv's pool for fs, dns.lookup, crypto and zlib work (Node.js docs, CLI: UV_THREADPOOL_SIZE)",
      default: 4,
    },
    {
      name: "max_old_space_size",
      type: "int",
      min: 64,
      max: 4096,
      scale: "log",
      apply: { kind: "env", name: "NODE_OPTIONS", template: "--max-old-space-size={value}", append: true },
      doc: "V8's old-generation heap limit in MiB, beyond which the process runs out of memory (Node.js docs, CLI: --max-old-space-size)",
    },
    {
      name: "max_semi_space_size",
      type: "int",
      min: 1,
      max: 128,
      scale: "log",
      apply: { kind: "env", name: "NODE_OPTIONS", template: "--max-semi-space-size={value}", append: true },
      doc: "V8's young-generation semi-space in MiB: larger means fewer scavenges (Node.js docs, CLI: --max-semi-space-size)",
    },
    {
      name: "WEB_CONCURRENCY",
      type: "int",
      min: 1,
      max: 16,
      scale: "log",
      apply: { kind: "env", name: "WEB_CONCURRENCY" },
      doc: "cluster worker processes, read by the app's node:cluster or throng code (Heroku docs, Optimizing Node.js Application Concurrency)",
    },
  ],
  constraints: [],
};
