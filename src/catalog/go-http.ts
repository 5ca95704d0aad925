/** Go HTTP services: the runtime's scheduler and garbage collector, through its environment. */
import type { CategoryCatalog } from "./types.js";

export const goHttp: CategoryCatalog = {
  category: "go-http",
  title: "Go HTTP services",
  knobs: [
    {
      name: "GOMAXPROCS",
      type: "int",
      min: 1,
      max: 16,
      scale: "log",
      apply: { kind: "env", name: "GOMAXPROCS" },
      doc: "OS threads running Go code at once; unset, the CPU count (Go 1.25+: the container's CPU limit) (package runtime docs, Environment Variables)",
    },
    {
      name: "GOGC",
      type: "int",
      min: 25,
      max: 800,
      scale: "log",
      apply: { kind: "env", name: "GOGC" },
      doc: "heap growth in % that triggers a collection: higher means fewer GCs and more memory (A Guide to the Go Garbage Collector: GOGC)",
      default: 100,
    },
    {
      name: "GOMEMLIMIT",
      type: "int",
      min: 16,
      max: 8192,
      scale: "log",
      apply: { kind: "env", name: "GOMEMLIMIT", template: "{value}MiB" },
      doc: "soft memory limit in MiB: the GC works harder near it; unset, no limit (A Guide to the Go Garbage Collector: Memory limit)",
    },
  ],
  constraints: [],
};
