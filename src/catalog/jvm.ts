/** JVM services: heap, garbage collector, GC threads, all through JAVA_TOOL_OPTIONS. */
import type { CategoryCatalog } from "./types.js";

export const jvm: CategoryCatalog = {
  category: "jvm",
  title: "JVM services (Java, Kotlin, Scala)",
  knobs: [
    {
      name: "heap",
      type: "int",
      min: 64,
      max: 8192,
      scale: "log",
      apply: { kind: "env", name: "JAVA_TOOL_OPTIONS", template: "-Xmx{value}m", append: true },
      doc: "maximum heap in MiB (-Xmx); unset, the JVM takes a quarter of the container's memory (JDK Tool Specifications, java: -Xmx)",
    },
    {
      name: "gc",
      type: "enum",
      values: ["G1GC", "ParallelGC", "SerialGC", "ZGC"],
      apply: { kind: "env", name: "JAVA_TOOL_OPTIONS", template: "-XX:+Use{value}", append: true },
      doc: "the garbage collector (-XX:+UseG1GC ...); ZGC needs JDK 15+ (HotSpot Virtual Machine Garbage Collection Tuning Guide)",
    },
    {
      name: "gc_threads",
      type: "int",
      min: 1,
      max: 16,
      scale: "log",
      apply: { kind: "env", name: "JAVA_TOOL_OPTIONS", template: "-XX:ParallelGCThreads={value}", append: true },
      doc: "threads of the stop-the-world GC phases (JDK Tool Specifications, java: -XX:ParallelGCThreads)",
    },
  ],
  constraints: [],
};
